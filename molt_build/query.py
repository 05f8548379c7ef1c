"""`moltb query`: a small target-graph query language over the loaded targets.

  EXPR := TERM (('+' | 'union' | '-' | 'except' | '^' | 'intersect') TERM)*
  TERM := PATTERN | '(' EXPR ')' | FUNC '(' ARGS ')'
  FUNC := deps(X[, depth]) | rdeps(U, X[, depth]) | kind(RULE, X) | somepath(A, B)
        | allpaths(A, B) | attr(NAME, VALUE, X)
"""
from __future__ import annotations

import re

import networkx as nx

from molt_build.errors import UsageError
from molt_build.labels import Label
from molt_build.loading import Loader, Target

# A word may be quoted, as in Bazel (`kind("c_.*", //...)`): the quotes are not part of it.
_TOKEN = re.compile(r"""\s*(?:(\(|\)|,|\+|\^)|(-)(?=\s)|"([^"]*)"|'([^']*)'|([^\s(),+^"']+))""")
_SET_OPS = {"+": "union", "union": "union", "-": "except", "except": "except",
            "^": "intersect", "intersect": "intersect"}


def tokenize(text: str) -> list[str]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise UsageError(f"query syntax error at column {pos + 1}: {text[pos:pos + 20]!r}")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class Query:
    def __init__(self, loader: Loader, cwd_pkg: str = ""):
        self.loader = loader
        self.cwd_pkg = cwd_pkg
        self.graph = nx.DiGraph()
        self.targets: dict[Label, Target] = {}

    # ---------------------------------------------------------------- graph
    def _add_closure(self, labels: list[Label]) -> None:
        new = [l for l in labels if l not in self.targets]
        if not new:
            return
        targets, _ = self.loader.closure(new)
        for label, t in targets.items():
            if label in self.targets:
                continue
            self.targets[label] = t
            self.graph.add_node(label)
            for _, dep in t.dep_edges():
                self.graph.add_edge(label, dep)

    def _pattern(self, text: str) -> set[Label]:
        labels = self.loader.expand([text], self.cwd_pkg)
        self._add_closure(labels)
        return set(labels)

    # ---------------------------------------------------------------- parse
    def evaluate(self, text: str) -> list[Label]:
        self.tokens = tokenize(text)
        self.pos = 0
        result = self._expr()
        if self.pos != len(self.tokens):
            raise UsageError(f"query syntax error: unexpected '{self.tokens[self.pos]}'")
        return sorted(result)

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> str:
        tok = self._peek()
        if tok is None:
            raise UsageError("query syntax error: unexpected end of expression")
        self.pos += 1
        return tok

    def _expect(self, tok: str) -> None:
        got = self._next()
        if got != tok:
            raise UsageError(f"query syntax error: expected '{tok}', got '{got}'")

    def _expr(self) -> set[Label]:
        left = self._term()
        while self._peek() in _SET_OPS:
            op = _SET_OPS[self._next()]
            right = self._term()
            left = left | right if op == "union" else left - right if op == "except" else left & right
        return left

    def _term(self) -> set[Label]:
        tok = self._next()
        if tok == "(":
            val = self._expr()
            self._expect(")")
            return val
        if self._peek() == "(" and re.fullmatch(r"[a-z_]+", tok):
            self._next()
            return self._call(tok)
        return self._pattern(tok)

    def _word(self) -> str:
        tok = self._next()
        if tok in ("(", ")", ","):
            raise UsageError(f"query syntax error: expected a word, got '{tok}'")
        return tok

    def _depth(self) -> int | None:
        if self._peek() == ",":
            self._next()
            word = self._word()
            if not word.isdigit():
                raise UsageError(f"query: depth must be a number, got '{word}'")
            return int(word)
        return None

    def _call(self, fn: str) -> set[Label]:
        if fn == "deps":
            x = self._expr()
            depth = self._depth()
            self._expect(")")
            out = set(x)
            for l in x:
                out |= set(nx.single_source_shortest_path_length(self.graph, l, cutoff=depth))
            return out
        if fn == "rdeps":
            universe = self._expr()
            self._expect(",")
            x = self._expr()
            depth = self._depth()
            self._expect(")")
            allowed = set(universe)
            for l in universe:
                allowed |= nx.descendants(self.graph, l)
            sub = self.graph.subgraph(allowed).reverse(copy=False)
            out = set()
            for l in x & allowed:
                out |= set(nx.single_source_shortest_path_length(sub, l, cutoff=depth))
            return out
        if fn == "kind":
            rule = self._word()
            self._expect(",")
            x = self._expr()
            self._expect(")")
            rx = re.compile(rule)
            return {l for l in x if rx.search(self.targets[l].rule.name)}
        if fn in ("somepath", "allpaths"):
            a = self._expr()
            self._expect(",")
            b = self._expr()
            self._expect(")")
            out = set()
            for s in sorted(a):
                for t in sorted(b):
                    if s in self.graph and t in self.graph and nx.has_path(self.graph, s, t):
                        if fn == "somepath":
                            return set(nx.shortest_path(self.graph, s, t))
                        desc = nx.descendants(self.graph, s) | {s}
                        anc = nx.ancestors(self.graph, t) | {t}
                        out |= desc & anc
            return out
        if fn == "attr":
            name = self._word()
            self._expect(",")
            value = self._word()
            self._expect(",")
            x = self._expr()
            self._expect(")")
            rx = re.compile(value)
            return {l for l in x if rx.search(str(getattr(self.targets[l].attrs, name, "")))}
        raise UsageError(f"unknown query function '{fn}'",
                         hint="functions: deps, rdeps, kind, somepath, allpaths, attr")

    # --------------------------------------------------------------- output
    def render(self, labels: list[Label], output: str) -> str:
        if output == "label":
            return "".join(f"{l}\n" for l in labels)
        if output == "json":
            import json
            sel = set(labels)
            return json.dumps([{"label": str(l), "rule": self.targets[l].rule.name,
                                "deps": sorted(str(d) for d in self.graph.successors(l) if d in sel)}
                               for l in labels], indent=1) + "\n"
        if output == "dot":
            sel = set(labels)
            lines = ["digraph moltb {", "  node [shape=box];"]
            lines += [f'  "{l}";' for l in labels]
            lines += [f'  "{a}" -> "{b}";' for a, b in sorted(self.graph.subgraph(sel).edges())]
            lines.append("}")
            return "\n".join(lines) + "\n"
        raise UsageError(f"unknown output format '{output}' (use label, json or dot)")
