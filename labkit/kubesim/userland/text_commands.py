"""The commands that print or filter text: ``echo``, ``printf``, ``head``, ``tail``, ``grep``,
``wc``, ``sort`` (busybox's and GNU's flags and wordings, where they differ).

Why separate: they only turn bytes (stdin or named files) into bytes, the part of the userland
that pipes exist for; they do not change the container.
"""
from __future__ import annotations

import re

from .command_io import _err, _input_of
from .shell import IO, Shell


def _echo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    newline, escapes = True, not sh.bash
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = ("e" in args[0]) or (escapes and "E" not in args[0])
        args = args[1:]
    text = " ".join(args)
    if escapes and "\\" in text:
        if "\\c" in text:
            text, newline = text.split("\\c", 1)[0], False
        text = _escapes(text)
    io.out((text + ("\n" if newline else "")).encode())
    return 0


def _escapes(text: str) -> str:
    return re.sub(r"\\(0[0-7]{0,3}|[abfnrtv\\])", lambda m: {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                                                           "v": "\v", "\\": "\\"}.get(m.group(1)) or chr(int(m.group(1), 8)), text)


def _printf(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        _err(sh, io, "printf: usage: printf format [arguments]" if sh.bash else "Usage: printf FORMAT [ARGUMENT]...")
        return 2 if sh.bash else 1
    fmt, args = _escapes(argv[1]), argv[2:]
    out = []
    while True:
        used = 0

        def sub(m: re.Match) -> str:
            nonlocal used
            spec = m.group(0)
            if spec == "%%":
                return "%"
            value = args[used] if used < len(args) else ""
            used += 1
            conv = spec[-1]
            if conv == "b":
                return _escapes(value)
            if conv in "di":
                try:
                    return (spec[:-1] + "d") % int(value or 0)
                except ValueError:
                    return "0"
            return (spec[:-1] + "s") % value
        out.append(re.sub(r"%[-+ 0#]*\d*(?:\.\d+)?[sdibxXfgec%]", sub, fmt))
        args = args[used:]
        if not args or used == 0:
            break
    io.out("".join(out).encode())
    return 0


def _count_arg(argv: list[str], default: int = 10) -> tuple[int, list[str]]:
    n, rest, i = default, [], 1
    while i < len(argv):
        a = argv[i]
        if a == "-n" and i + 1 < len(argv):
            n = int(argv[i + 1].lstrip("+") or 0)
            i += 2
            continue
        if re.fullmatch(r"-n?\d+", a):
            n = int(a.lstrip("-n"))
        elif a.startswith("-") and a != "-":
            pass
        else:
            rest.append(a)
        i += 1
    return n, rest


def _head(sh: Shell, argv: list[str], io: IO) -> int:
    n, names = _count_arg(argv)
    data, status = _input_of(sh, names, io, "head")
    io.out(b"".join(data.splitlines(keepends=True)[:n]))
    return status


def _tail(sh: Shell, argv: list[str], io: IO) -> int:
    n, names = _count_arg(argv)
    data, status = _input_of(sh, names, io, "tail")
    lines = data.splitlines(keepends=True)
    io.out(b"".join(lines[-n:] if n else []))
    return status


def _grep(sh: Shell, argv: list[str], io: IO) -> int:
    flags, rest = "", []
    args = argv[1:]
    pattern = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-e" and i + 1 < len(args):
            pattern = args[i + 1]
            i += 2
            continue
        if a.startswith("-") and len(a) > 1 and pattern is None and not rest:
            flags += a[1:]
        else:
            rest.append(a)
        i += 1
    if pattern is None:
        if not rest:
            _err(sh, io, "Usage: grep [-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]..."
                 if sh.view.family.busybox else "Usage: grep [OPTION]... PATTERNS [FILE]...")
            return 2
        pattern, rest = rest[0], rest[1:]
    data, status = _input_of(sh, rest, io, "grep")
    regex = re.escape(pattern) if "F" in flags else _bre(pattern, "E" in flags)
    try:
        rx = re.compile(regex, re.I if "i" in flags else 0)
    except re.error:
        rx = re.compile(re.escape(pattern), re.I if "i" in flags else 0)
    found = 0
    for line in data.decode(errors="replace").splitlines():
        hit = bool(rx.search(line)) if "w" not in flags else bool(re.search(rf"\b(?:{regex})\b", line, re.I if "i" in flags else 0))
        if hit != ("v" in flags):
            found += 1
            if "q" not in flags and "c" not in flags:
                io.out((line + "\n").encode())
    if "c" in flags:
        io.out(f"{found}\n".encode())
    return 0 if found else (status or 1) if status != 1 else 2


def _bre(pattern: str, extended: bool) -> str:
    if extended:
        return pattern
    return pattern.replace(r"\|", "|").replace(r"\(", "(").replace(r"\)", ")").replace("+", r"\+").replace("?", r"\?")


def _wc(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
    names = [a for a in argv[1:] if not a.startswith("-")]
    data, status = _input_of(sh, names, io, "wc")
    counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data)}
    chosen = [counts[f] for f in "lwc" if f in flags] or [counts["l"], counts["w"], counts["c"]]
    if len(chosen) == 1 and not names:
        text = str(chosen[0])
    else:
        width = 7 if sh.view.family.busybox or len(chosen) > 1 else 0
        text = " ".join(f"{c:>{width}}" for c in chosen)
    if names:
        text += " " + names[0]
    io.out((text + "\n").encode())
    return status


def _sort(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")]
    data, status = _input_of(sh, names, io, "sort")
    lines = data.decode(errors="replace").splitlines()
    lines.sort(reverse="-r" in argv)
    if "-u" in argv:
        lines = list(dict.fromkeys(lines))
    io.out("".join(line + "\n" for line in lines).encode())
    return status

