"""The workspace server: `python -m molt_build.server ROOT`, started by the first
`moltb build` or `moltb test` in a workspace (server_client.py).

It keeps moltb's modules imported, the build snapshots in memory and a watch of the
workspace (file_watch.py). Each command runs in a process forked from it, so the
command starts warm and inherits what the watch knows: a no-op or a one-file edit
stats only what changed. Commands are served concurrently, one process each, sharing
the cache as separate `moltb` processes always do. The command process writes to the
client's terminal (its descriptors came with the request) and sends the exit code.

The server ends on `moltb shutdown`, after MOLTB_SERVER_IDLE_S seconds without a
command (default 3 hours), when a client runs a different moltb (an upgrade or an
edit of moltb itself: that client starts a new server), or when its workspace is gone.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import selectors
import signal
import socket
import sys
import time

from molt_build import noop, server_state
from molt_build.layout import LOG_DIR, STATE_DIR
from molt_build.server_client import PROTOCOL, mount_namespace
from molt_build.server_io import adopt_settings, adopt_stdio, close_quietly, drain, receive, send
from molt_build.server_paths import install_identity, server_dir, socket_path

IDLE_DEFAULT_S = 3 * 3600
SETTLE_S = 3.0                     # how long a command waits for the snapshots of those that just replied
ORPHAN_GRACE_S = 0.5               # a command whose client went away gets this long to end by itself
MEMO_SNAPSHOTS = 8                 # build snapshots (and their graphs) kept in memory
PRELOAD = ("molt_build.build", "molt_build.loading", "molt_build.analysis", "molt_build.analysis_cache",
           "molt_build.scheduler", "molt_build.executor", "molt_build.workspace", "molt_build.registry",
           "molt_build.action_cache", "molt_build.cas", "molt_build.testing", "molt_build.cli",
           "molt_build.cli.build_cmd", "molt_build.cli.test_cmd", "molt_build.watch_loop", "molt_build.entry",
           "molt_build.delta", "molt_build.locks", "molt_build.remote_setup", "filelock", "secrets", "resource",
           "encodings.utf_8_sig")
log = logging.getLogger("moltb.server")


class _Command:
    def __init__(self, conn, report_r: int, gen):
        self.conn = conn
        self.report_r = report_r
        self.gen = gen
        self.buf = b""
        self.replied = False      # its exit code went out; it is writing the next build's snapshot


class Server:
    def __init__(self, root: str):
        self.root = root
        self.dir = server_dir(root)
        os.makedirs(self.dir, exist_ok=True)
        self.lock_fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)     # BlockingIOError: another server runs
        self.identity = install_identity()
        self.idle_s = _idle_seconds()
        self.sock_path = socket_path(root)
        self.pid = os.getpid()
        self.mount_ns = mount_namespace()
        self.requests = 0
        self.validated: dict[str, tuple] = {}     # snapshot path -> (its identity, generation it matched at)
        self.commands: dict[int, _Command] = {}   # pid -> the command it runs
        self.orphans: dict[int, float] = {}       # pid -> when to interrupt it (its client went away)
        self.last_active = time.monotonic()
        self.stopping = False
        self.watcher = self._watch()
        for name in PRELOAD:
            try:
                __import__(name)
            except Exception as e:      # a command that needs it reports the problem itself
                log.warning("preload %s: %s", name, e)
        self._warm()
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop_signal)
        signal.signal(signal.SIGINT, self._stop_signal)
        self.listener = self._listen()
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self._write_info()

    # ------------------------------------------------------------- set-up

    def _watch(self):
        from molt_build.file_watch import FileWatcher, WatchUnavailable
        exclude = [STATE_DIR, LOG_DIR, "cache", ".git"]
        try:
            w = FileWatcher(self.root, exclude, os.path.join(self.dir, "cookies"))
        except (WatchUnavailable, ImportError) as e:
            log.warning("no file watch (%s): every command stats the files it depends on", e)
            return None
        log.info("watching %s (%d directories)", self.root, len(w._wd_dir))
        return w

    def _listen(self) -> socket.socket:
        os.makedirs(os.path.dirname(self.sock_path), mode=0o700, exist_ok=True)
        try:
            os.unlink(self.sock_path)          # a dead server's: we hold the workspace's server lock
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock_path)
        os.chmod(self.sock_path, 0o600)
        s.listen(64)
        s.set_inheritable(False)
        return s

    def _write_info(self) -> None:
        info = {"pid": self.pid, "socket": self.sock_path, "identity": self.identity, "root": self.root,
                "idle_timeout_s": self.idle_s, "watch": self.watcher is not None}
        tmp = os.path.join(self.dir, f"server.json.{self.pid}")
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, os.path.join(self.dir, "server.json"))

    def _stop_signal(self, *_):
        self.stopping = True

    # ------------------------------------------------------------- the loop

    def serve(self) -> None:
        log.info("serving %s on %s (pid %d)", self.root, self.sock_path, self.pid)
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.1 if self.orphans else min(5.0, self.idle_s)):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    drain(self.wake_r)
                elif key.data == "report":
                    self._read_report(key.fileobj)
                elif isinstance(key.data, tuple):     # ("conn", pid): the client went away?
                    self._client_readable(key.data[1])
                if self.stopping:
                    break
            self._reap()
            self._interrupt_orphans()
            if self.commands:
                self.last_active = time.monotonic()
            elif time.monotonic() - self.last_active > self.idle_s:
                log.info("idle for %d s: stopping", self.idle_s)
                break
            if not self._still_ours():
                break
        self._close()

    def _still_ours(self) -> bool:
        """The workspace and this server's socket are still there (a removed workspace or
        a `moltb clean --expunge` ends the server)."""
        if os.path.exists(self.sock_path) and os.path.isdir(self.dir):
            return True
        log.info("socket or state directory removed: stopping")
        return False

    def _close(self) -> None:
        try:
            if os.stat(self.sock_path).st_ino:
                os.unlink(self.sock_path)
        except OSError:
            pass
        if self.watcher is not None:
            self.watcher.close()
        log.info("stopped")

    # ------------------------------------------------------------- commands

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.set_inheritable(False)
        self.last_active = time.monotonic()
        try:
            msg, fds = receive(conn)
        except (OSError, ValueError) as e:
            log.warning("bad request: %s", e)
            conn.close()
            return
        try:
            self._dispatch(conn, msg, fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _dispatch(self, conn, msg: dict, fds: list[int]) -> None:
        op = msg.get("op")
        if op == "shutdown":
            send(conn, {"stopping": self.pid})
            conn.close()
            self.stopping = True
            return
        if msg.get("protocol") != PROTOCOL or msg.get("identity") != self.identity:
            # Another moltb (upgraded, or its own sources edited): it starts its own server.
            log.info("a client runs another moltb: stopping for it")
            send(conn, {"restart": "moltb changed", "server": self.pid})
            conn.close()
            self.stopping = True
            return
        if msg.get("mount_ns") != self.mount_ns:
            # It sees other files than we do (a mount namespace): the newest client wins.
            log.info("a client in another mount namespace: stopping for it")
            send(conn, {"restart": "another mount namespace", "server": self.pid})
            conn.close()
            self.stopping = True
            return
        if op != "run":
            send(conn, {"error": f"unknown request {op!r}"})
            conn.close()
            return
        self.requests += 1
        gen = self.watcher.sync() if self.watcher is not None else None
        if self.watcher is not None and gen is None:
            log.warning("the watch did not answer: this command stats every file")
        self._settle()
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            try:
                self._run_child(conn, msg, fds, report_w, gen)     # never returns
            finally:
                os._exit(37)
        os.close(report_w)
        os.set_blocking(report_r, False)
        cmd = _Command(conn, report_r, gen)
        self.commands[pid] = cmd
        self.sel.register(report_r, selectors.EVENT_READ, "report")
        self.sel.register(conn, selectors.EVENT_READ, ("conn", pid))

    def _run_child(self, conn, msg: dict, fds: list[int], report_w: int, gen) -> None:
        rc = 37
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for fd in (self.lock_fd, self.listener.fileno(), self.wake_r, self.wake_w):
                close_quietly(fd)
            self.sel.close()
            for c in self.commands.values():
                close_quietly(c.report_r)
                close_quietly(c.conn.fileno())
            adopt_stdio(msg.get("fds", []), fds)
            os.chdir(msg["cwd"])
            adopt_settings(msg)
            os.environ.clear()
            os.environ.update(msg["env"])
            sys.argv = ["moltb", *msg["argv"]]
            server_state.CURRENT = server_state.RequestContext(self.pid, self.requests, gen, self.watcher,
                                                               self.validated, report_w)
            send(conn, {"child": os.getpid()})
            from molt_build.entry import run_here
            rc = run_here(list(msg["argv"]))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        except KeyboardInterrupt:
            sys.stderr.write("\nERROR: interrupted\n")
            rc = 8
        except BaseException as e:     # noqa: BLE001 - a bug: report it, never a hang
            from molt_build import crash
            rc = crash.handle(e, command=" ".join(msg.get("argv", [])[:1]))
        finally:
            # From here on nothing may interrupt: the exit code is sent and the process ends.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            try:
                send(conn, {"exit": rc})
                conn.close()
            except Exception:
                pass
            try:
                os.write(report_w, b"replied\n")
            except OSError:
                pass
            server_state.run_after_reply()
            os._exit(rc)

    def _settle(self) -> None:
        """Before a command starts: what finished commands reported, and the snapshots
        of those that replied and are still writing them (a moment), so the new command
        starts from them."""
        for key in list(self.sel.get_map().values()):
            if key.data == "report":
                self._read_report(key.fileobj)
        deadline = time.monotonic() + SETTLE_S
        while any(c.replied for c in self.commands.values()) and time.monotonic() < deadline:
            time.sleep(0.002)
            for c in list(self.commands.values()):
                if c.report_r >= 0:
                    self._read_report(c.report_r, c)
            self._reap()

    def _client_readable(self, pid: int) -> None:
        cmd = self.commands.get(pid)
        if cmd is None:
            return
        try:
            data = cmd.conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            # The client went away. After its command's exit code (the command is ending),
            # or killed, or its terminal closed: then its command is interrupted, unless it
            # ends within the grace period.
            self.sel.unregister(cmd.conn)
            self.orphans[pid] = time.monotonic() + ORPHAN_GRACE_S

    def _interrupt_orphans(self) -> None:
        now = time.monotonic()
        for pid, deadline in list(self.orphans.items()):
            if pid not in self.commands:
                del self.orphans[pid]
            elif now >= deadline:
                del self.orphans[pid]
                log.info("client of command %d gone: interrupting it", pid)
                try:
                    os.kill(pid, signal.SIGINT)
                except OSError:
                    pass

    def _read_report(self, fd: int, cmd: _Command | None = None) -> None:
        if cmd is None:
            cmd = next((c for c in self.commands.values() if c.report_r == fd), None)
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if cmd is None:
            return
        cmd.buf += data
        *lines, cmd.buf = cmd.buf.split(b"\n")
        for line in lines:
            if line == b"replied":
                cmd.replied = True
                continue
            path, *ident = line.decode().split("\t")
            if cmd.gen is not None and len(ident) == 3:
                self.validated[path] = (tuple(int(x) for x in ident), cmd.gen)
                self._memo(path)
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            cmd.report_r = -1

    def _warm(self) -> None:
        """What every build computes the same while moltb's files do not change."""
        try:
            from molt_build.build import key_policy
            key_policy(0)
        except Exception as e:     # the first command reports it
            log.warning("warm-up: %s", e)

    def _memo(self, snapshot_path: str) -> None:
        """Keep a snapshot valid for this server, and its graph, in memory: the next
        command inherits them instead of reading them."""
        name = os.path.basename(snapshot_path)
        if not (name.startswith("noop-") and name.endswith(".marshal")):
            return
        server_state.hold_build(self.root, name[len("noop-"):-len(".marshal")], self.watcher, MEMO_SNAPSHOTS)
        noop.remember_file(os.path.join(self.root, STATE_DIR, "digests.marshal"))

    def _reap(self) -> None:
        while self.commands:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            cmd = self.commands.pop(pid, None)
            if cmd is None:
                continue
            if cmd.report_r >= 0:
                self._read_report(cmd.report_r, cmd)   # the rest of it
                if cmd.report_r >= 0:
                    self.sel.unregister(cmd.report_r)
                    os.close(cmd.report_r)
            if os.WIFSIGNALED(status):            # it could not say its exit code
                try:
                    send(cmd.conn, {"exit": 128 + os.WTERMSIG(status)})
                except OSError:
                    pass
            try:
                self.sel.unregister(cmd.conn)
            except (KeyError, ValueError):
                pass
            cmd.conn.close()


# ------------------------------------------------------------------ helpers

def _idle_seconds() -> float:
    try:
        return float(os.environ.get("MOLTB_SERVER_IDLE_S", IDLE_DEFAULT_S))
    except ValueError:
        return float(IDLE_DEFAULT_S)


def main() -> None:
    root = os.path.abspath(sys.argv[1])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s server[{os.getpid()}] %(levelname)s %(message)s")
    try:
        server = Server(root)
    except BlockingIOError:
        log.info("another server serves %s", root)
        sys.exit(0)
    server.serve()


if __name__ == "__main__":
    main()
