"""Word expansion in the emulated shell: ``$VAR``, ``${VAR:-word}`` and the other ``${...}`` forms,
``$(...)`` (backquotes arrive as that from :mod:`.syntax`), ``$((...))``, ``~``, field splitting of
unquoted expansions, and pathname globbing over the container's files.

Why separate: what a word becomes is one job (busybox ash and bash agree on all of it here);
running what the words name (pipes, redirects, control flow) is :mod:`.shell`'s. ``Expander`` is
a mixin of :class:`.shell.Shell`: it reads the shell's variables, arguments, status and working
directory, and runs ``$(...)`` through ``command_output``, which the shell provides.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import Any

from . import syntax


class Expander:
    """The expansion half of a shell; :class:`.shell.Shell` supplies the state and ``command_output``."""

    view: Any
    vars: dict[str, str]
    args: list[str]
    name: str
    status: int
    pid: int
    cwd: str

    def path(self, name: str) -> str:
        raise NotImplementedError

    def command_output(self, script: str) -> str:
        """What ``script`` prints, run in a subshell (``$(...)``), trailing newlines removed."""
        raise NotImplementedError

    def param(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(self.pid)
        if name == "#":
            return str(len(self.args))
        if name == "0":
            return self.name
        if name.isdigit():
            i = int(name)
            return self.args[i - 1] if 0 < i <= len(self.args) else ""
        if name in ("@", "*"):
            return " ".join(self.args)
        if name == "RANDOM":
            return str(self.view.store.rng.randint(0, 32767)) if hasattr(self.view.store, "rng") else "4"
        if name == "PWD":
            return self.cwd
        return self.vars.get(name)

    def _braced(self, body: str) -> str:
        if body.startswith("#") and len(body) > 1:
            return str(len(self.param(body[1:]) or ""))
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*|[0-9?#$@*])(:?[-=+?])?(.*)$", body, re.S)
        if not m:
            raise syntax.ShellSyntaxError("syntax error: bad substitution")
        name, op, rest = m.group(1), m.group(2), m.group(3)
        value = self.param(name)
        if not op:
            return value or ""
        empty = value is None or (op.startswith(":") and value == "")
        word = self.expand_string(rest)
        kind = op[-1]
        if kind == "-":
            return word if empty else (value or "")
        if kind == "=":
            if empty:
                self.vars[name] = word
                return word
            return value or ""
        if kind == "+":
            return "" if empty else word
        if kind == "?" and empty:
            raise syntax.ShellSyntaxError(f"{name}: {word or 'parameter not set'}")
        return value or ""

    def _substitute(self, script: str) -> str:
        if script.startswith("(") and script.endswith(")"):
            return self._arith(script[1:-1])
        return self.command_output(script)

    def _arith(self, expr: str) -> str:
        text = re.sub(r"\$?\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: str(_int(self.vars.get(m.group(1), "0"))), self.expand_string(expr))
        if not re.fullmatch(r"[0-9+\-*/%() <>=!&|]*", text) or "**" in text:
            raise syntax.ShellSyntaxError("arithmetic syntax error")
        try:
            value = eval(text.replace("/", "//").replace("&&", " and ").replace("||", " or "), {"__builtins__": {}})  # only digits, operators
        except Exception:
            raise syntax.ShellSyntaxError("arithmetic syntax error") from None
        return str(int(value))

    def _expand_pieces(self, text: str) -> list[tuple[str, bool]]:
        """(text, came from an expansion) pieces of ``text`` after $-expansion."""
        out: list[tuple[str, bool]] = []
        i, n = 0, len(text)
        lit = ""
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in "$`":
                lit += text[i + 1]
                i += 2
                continue
            if ch != "$" or i + 1 >= n:
                lit += ch
                i += 1
                continue
            nxt = text[i + 1]
            value: str | None = None
            if nxt == "(":
                k = syntax._closing(text, i + 1)
                value = self._substitute(text[i + 2:k])
                i = k + 1
            elif nxt == "{":
                k = text.find("}", i + 2)
                if k == -1:
                    raise syntax.ShellSyntaxError("syntax error: missing '}'")
                value = self._braced(text[i + 2:k])
                i = k + 1
            else:
                m = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9?#$@*!-]", text[i + 1:])
                if not m:
                    lit += ch
                    i += 1
                    continue
                value = self.param(m.group(0)) or ""
                i += 1 + len(m.group(0))
            if lit:
                out.append((lit, False))
                lit = ""
            out.append((value or "", True))
        if lit:
            out.append((lit, False))
        return out

    def expand_string(self, text: str) -> str:
        return "".join(t for t, _ in self._expand_pieces(text))

    def expand_word(self, word: syntax.Word) -> str:
        """One word, expanded without field splitting or globbing (assignments, redirect targets)."""
        out = ""
        for text, quote in word.parts:
            if quote == "'":
                out += text
            elif quote == "" and out == "" and (text == "~" or text.startswith("~/")):
                out += self.vars.get("HOME", "/root") + self.expand_string(text[1:])
            else:
                out += self.expand_string(text)
        return out

    def expand_words(self, words: list[syntax.Word]) -> list[str]:
        """Words after expansion, field splitting of unquoted expansions, and pathname globbing."""
        result: list[str] = []
        for word in words:
            fields: list[tuple[str, bool]] = []     # (text, may glob)
            cur, glob, started = "", False, False
            for ti, (text, quote) in enumerate(word.parts):
                if quote == "'":
                    cur += text
                    started = True
                    continue
                if quote == '"':
                    cur += self.expand_string(text)
                    started = True
                    continue
                if ti == 0 and (text == "~" or text.startswith("~/")):
                    text = self.vars.get("HOME", "/root") + text[1:]
                for piece, expanded in self._expand_pieces(text):
                    if not expanded:
                        cur += piece
                        started = True
                        glob = glob or any(c in piece for c in "*?[")
                        continue
                    chunks = piece.split()
                    if not chunks:
                        continue
                    if piece[:1].isspace() and (cur or started):
                        fields.append((cur, glob))
                        cur, glob, started = "", False, False
                    for j, chunk in enumerate(chunks):
                        if j:
                            fields.append((cur, glob))
                            cur, glob = "", False
                        cur += chunk
                        started = True
                        glob = glob or any(c in chunk for c in "*?[")
                    if piece[-1:].isspace():
                        fields.append((cur, glob))
                        cur, glob, started = "", False, False
            if started or cur:
                fields.append((cur, glob))
            for text, may_glob in fields:
                matches = self.glob(text) if may_glob else []
                result.extend(matches or [text])
        return result

    def glob(self, pattern: str) -> list[str]:
        absolute = pattern.startswith("/")
        full = self.path(pattern)
        parts = [p for p in full.split("/") if p]
        paths = ["/"]
        for part in parts:
            nxt = []
            for base in paths:
                if any(c in part for c in "*?["):
                    prefix = base.rstrip("/") + "/"
                    for p in self.view.files:
                        if p.startswith(prefix) and "/" not in p[len(prefix):] and p != base:
                            name = p[len(prefix):]
                            if fnmatch.fnmatchcase(name, part) and (part.startswith(".") or not name.startswith(".")):
                                nxt.append(p)
                else:
                    cand = posixpath.join(base, part)
                    if cand in self.view.files:
                        nxt.append(cand)
            paths = sorted(set(nxt))
        if not absolute:
            cwd = self.cwd.rstrip("/") + "/"
            paths = [p[len(cwd):] if p.startswith(cwd) else p for p in paths]
        return paths


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
