"""Parsing shell command lines (the POSIX ``sh`` subset tutorials type) into a small tree.

Words keep their quoting (single, double, bare) so expansion can happen when the command runs,
after the commands before it have set ``$?`` and variables. Understood: quotes and backslashes,
``;`` ``&&`` ``||`` ``|`` ``&`` newlines, ``!``, redirects (``>`` ``>>`` ``<`` ``2>`` ``2>&1``
``&>``), assignments, ``if/then/elif/else/fi``, ``while``/``until``, ``for x in ...``, ``{ ...; }``
and ``( ... )``, ``#`` comments. A syntax error is a :class:`ShellSyntaxError` with the shell's wording.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

OPERATORS = ("&&", "||", ";;", ">>", "2>&1", "2>>", "2>", "&>", ">&", ";", "|", "&", "<", ">", "(", ")", "\n")
RESERVED = {"if", "then", "elif", "else", "fi", "while", "until", "do", "done", "for", "in", "{", "}", "!", "case", "esac"}
ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class ShellSyntaxError(Exception):
    """The shell's syntax error message (``syntax error: unexpected "fi"``)."""


@dataclass
class Word:
    """A word as typed: parts of (text, quoting) with quoting in '', '"', "'"."""

    parts: list[tuple[str, str]]

    @property
    def plain(self) -> str | None:
        """The word if it is one unquoted piece (reserved words and operators are recognised only so)."""
        return self.parts[0][0] if len(self.parts) == 1 and self.parts[0][1] == "" else None

    def raw(self) -> str:
        return "".join(t for t, _ in self.parts)


@dataclass
class Redirect:
    fd: int
    op: str                 # > >> < >&
    target: Word | None     # None for 2>&1


@dataclass
class Simple:
    assigns: list[Word] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Pipeline:
    commands: list[object]
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)
    background: bool = False


@dataclass
class If:
    branches: list[tuple[list[AndOr], list[AndOr]]]
    otherwise: list[AndOr] | None = None


@dataclass
class Loop:
    until: bool
    cond: list[AndOr]
    body: list[AndOr]


@dataclass
class For:
    name: str
    items: list[Word] | None
    body: list[AndOr]


@dataclass
class Group:
    body: list[AndOr]
    subshell: bool = False
    redirects: list[Redirect] = field(default_factory=list)


def tokens(text: str) -> list[Word | str]:
    """Words (``Word``) and operators (``str``), with ``$(...)`` and backquotes kept inside words."""
    out: list[Word | str] = []
    i, n = 0, len(text)
    parts: list[tuple[str, str]] = []
    buf = ""
    started = False

    def flush() -> None:
        nonlocal parts, buf, started
        if buf:
            parts.append((buf, ""))
        if started:
            out.append(Word(parts))
        parts, buf, started = [], "", False

    while i < n:
        ch = text[i]
        if ch == "'":
            j = text.find("'", i + 1)
            if j == -1:
                raise ShellSyntaxError("unterminated quoted string")
            if buf:
                parts.append((buf, ""))
                buf = ""
            parts.append((text[i + 1:j], "'"))
            started = True
            i = j + 1
            continue
        if ch == '"':
            j, chunk = i + 1, ""
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\$`\n':
                    chunk += "\\" + text[j + 1] if text[j + 1] in "$`" else text[j + 1]
                    j += 2
                    continue
                if text.startswith("$(", j):
                    k = _closing(text, j + 1)
                    chunk += text[j:k + 1]
                    j = k + 1
                    continue
                chunk += text[j]
                j += 1
            if j >= n:
                raise ShellSyntaxError("unterminated quoted string")
            if buf:
                parts.append((buf, ""))
                buf = ""
            parts.append((chunk, '"'))
            started = True
            i = j + 1
            continue
        if ch == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                i += 2
                continue
            if buf:
                parts.append((buf, ""))
                buf = ""
            parts.append((text[i + 1:i + 2], "'"))
            started = True
            i += 2
            continue
        if ch == "$" and text.startswith("$(", i):
            k = _closing(text, i + 1)
            buf += text[i:k + 1]
            started = True
            i = k + 1
            continue
        if ch == "`":
            j = text.find("`", i + 1)
            if j == -1:
                raise ShellSyntaxError("unterminated quoted string")
            buf += "$(" + text[i + 1:j] + ")"
            started = True
            i = j + 1
            continue
        if ch == "#" and not started:
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch in " \t":
            flush()
            i += 1
            continue
        op = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if op is not None and op.startswith("2") and started:
            op = None   # `a2>x` is the word a2, then >x
        if op is not None:
            flush()
            out.append(op)
            i += len(op)
            continue
        buf += ch
        started = True
        i += 1
    flush()
    return out


def _closing(text: str, open_at: int) -> int:
    depth, i = 0, open_at
    quote = ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ShellSyntaxError("unterminated $( )")


class Parser:
    """Recursive descent over :func:`tokens`."""

    def __init__(self, text: str):
        self.toks = tokens(text)
        self.i = 0

    def peek(self) -> Word | str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def is_word(self, value: str) -> bool:
        t = self.peek()
        return isinstance(t, Word) and t.plain == value

    def take(self) -> Word | str | None:
        t = self.peek()
        self.i += 1
        return t

    def unexpected(self) -> ShellSyntaxError:
        t = self.peek()
        shown = "end of file" if t is None else ("newline" if t == "\n" else (t if isinstance(t, str) else t.raw()))
        return ShellSyntaxError(f'syntax error: unexpected "{shown}"' if t is not None else "syntax error: unexpected end of file")

    def skip_newlines(self) -> None:
        while self.peek() == "\n":
            self.i += 1

    def script(self) -> list[AndOr]:
        body = self.list_(stop=())
        if self.peek() is not None:
            raise self.unexpected()
        return body

    def list_(self, stop: tuple[str, ...]) -> list[AndOr]:
        out: list[AndOr] = []
        while True:
            self.skip_newlines()
            while self.peek() == ";":
                if not out:
                    raise self.unexpected()
                self.i += 1
                self.skip_newlines()
            t = self.peek()
            if t is None or t == ")" or (isinstance(t, Word) and t.plain in stop):
                return out
            item = self.and_or()
            out.append(item)
            t = self.peek()
            if t in (";", "\n"):
                self.i += 1
            elif t == "&":
                item.background = True
                self.i += 1
            elif t is None or t == ")" or (isinstance(t, Word) and t.plain in stop):
                return out
            else:
                raise self.unexpected()

    def and_or(self) -> AndOr:
        node = AndOr(self.pipeline())
        while self.peek() in ("&&", "||"):
            op = self.take()
            self.skip_newlines()
            node.rest.append((str(op), self.pipeline()))
        return node

    def pipeline(self) -> Pipeline:
        negate = False
        if self.is_word("!"):
            self.i += 1
            negate = True
        cmds = [self.command()]
        while self.peek() == "|":
            self.i += 1
            self.skip_newlines()
            cmds.append(self.command())
        return Pipeline(cmds, negate)

    def expect(self, word: str) -> None:
        self.skip_newlines()
        if not self.is_word(word):
            raise self.unexpected()
        self.i += 1

    def command(self) -> object:
        t = self.peek()
        if isinstance(t, Word) and t.plain in ("if", "while", "until", "for", "{"):
            kw = t.plain
            self.i += 1
            if kw == "if":
                branches = []
                cond = self.list_(("then",))
                self.expect("then")
                body = self.list_(("elif", "else", "fi"))
                branches.append((cond, body))
                otherwise = None
                while True:
                    if self.is_word("elif"):
                        self.i += 1
                        c = self.list_(("then",))
                        self.expect("then")
                        branches.append((c, self.list_(("elif", "else", "fi"))))
                    elif self.is_word("else"):
                        self.i += 1
                        otherwise = self.list_(("fi",))
                    else:
                        break
                self.expect("fi")
                return self._redirected(If(branches, otherwise))
            if kw in ("while", "until"):
                cond = self.list_(("do",))
                self.expect("do")
                body = self.list_(("done",))
                self.expect("done")
                return self._redirected(Loop(kw == "until", cond, body))
            if kw == "for":
                name = self.take()
                if not isinstance(name, Word) or not name.plain:
                    raise self.unexpected()
                items: list[Word] | None = None
                self.skip_newlines()
                if self.is_word("in"):
                    self.i += 1
                    items = []
                    while isinstance(self.peek(), Word):
                        items.append(self.take())  # type: ignore[arg-type]
                if self.peek() in (";", "\n"):
                    self.i += 1
                self.expect("do")
                body = self.list_(("done",))
                self.expect("done")
                return self._redirected(For(name.plain, items, body))
            body = self.list_(("}",))
            self.expect("}")
            return self._redirected(Group(body))
        if t == "(":
            self.i += 1
            body = self.list_(())
            if self.peek() != ")":
                raise self.unexpected()
            self.i += 1
            return self._redirected(Group(body, subshell=True))
        return self.simple()

    def _redirected(self, node: object) -> object:
        reds: list[Redirect] = []
        while self._redirect(reds):
            pass
        if reds:
            return Group([AndOr(Pipeline([node]))], redirects=reds)
        return node

    def _redirect(self, reds: list[Redirect]) -> bool:
        t = self.peek()
        if t == "2>&1":
            self.i += 1
            reds.append(Redirect(2, ">&", None))
            return True
        if t in (">", ">>", "<", "2>", "2>>", "&>", ">&"):
            self.i += 1
            target = self.take()
            if not isinstance(target, Word):
                self.i -= 1
                raise self.unexpected()
            if t == "&>":
                reds += [Redirect(1, ">", target), Redirect(2, ">&", None)]
            elif t == ">&":
                if target.plain == "2":
                    reds.append(Redirect(1, ">&2", None))
                else:
                    reds += [Redirect(1, ">", target), Redirect(2, ">&", None)]
            else:
                fd = 2 if t.startswith("2") else (0 if t == "<" else 1)
                reds.append(Redirect(fd, t.lstrip("2") or ">", target))
            return True
        return False

    def simple(self) -> Simple:
        node = Simple()
        while True:
            if self._redirect(node.redirects):
                continue
            t = self.peek()
            if not isinstance(t, Word):
                break
            if not node.words and t.plain in RESERVED - {"!", "{", "in"} and t.plain not in ("if", "while", "until", "for"):
                break
            if not node.words and t.parts and t.parts[0][1] == "" and ASSIGN.match(t.parts[0][0]):
                node.assigns.append(t)
            else:
                node.words.append(t)
            self.i += 1
        if not node.words and not node.assigns and not node.redirects:
            raise self.unexpected()
        return node


def parse(text: str) -> list[AndOr]:
    """The tree of a script; :class:`ShellSyntaxError` when it is not complete or not valid."""
    return Parser(text).script()
