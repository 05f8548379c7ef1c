"""Run a command and record its peak resident set size:

    python -S -E rss_exec.py RSS_FILE RLIMIT_KB -- ARGV...

A process's peak RSS as the kernel reports it (wait4) also counts the memory of the
process it was started from, up to its exec. So the measured program is forked from
this small interpreter (started without `site`), not from moltb: the floor of what it
reports is this process's size (a few MiB), not the build's. RLIMIT_KB > 0 caps the
program's address space. The exit status, or the signal that killed the program, is
passed on. Standard library only: it runs without site-packages."""
import os
import resource
import signal
import sys


def main() -> None:
    rss_file, rlimit_kb = sys.argv[1], int(sys.argv[2])
    argv = sys.argv[4:]
    pid = os.fork()
    if pid == 0:
        try:
            if rlimit_kb > 0:
                resource.setrlimit(resource.RLIMIT_AS, (rlimit_kb * 1024, rlimit_kb * 1024))
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, f"cannot start {argv[0]!r}: {e.strerror}\n".encode())
            os._exit(127)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, f: os.kill(pid, s))
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    with open(rss_file, "w") as f:
        f.write(f"{usage.ru_maxrss}\n")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
