"""What the programs of the emulated shell share about their streams: the error line, the
busybox-or-GNU wording of "no such file", and reading the named files or else stdin.

Why separate: every command module (files, text, system, net, DNS, archive) uses these, and the
table in :mod:`.commands` imports every command module; a leaf module keeps that import one-way.
"""
from __future__ import annotations

from .shell import IO, Shell


def _err(sh: Shell, io: IO, text: str) -> None:
    io.err((text if text.endswith("\n") else text + "\n").encode())


def _no_file(sh: Shell, prog: str, target: str, why: str = "No such file or directory") -> str:
    if sh.view.family.busybox:
        return f"{prog}: can't open '{target}': {why}" if prog == "cat" else f"{prog}: {target}: {why}"
    return f"{prog}: {target}: {why}" if prog == "cat" else f"{prog}: cannot access '{target}': {why}"


def _input_of(sh: Shell, names: list[str], io: IO, prog: str) -> tuple[bytes, int]:
    if not names:
        return io.stdin.read(), 0
    data, status = b"", 0
    for name in names:
        path = sh.path(name)
        content = sh.view.files.get(path)
        if content is None:
            _err(sh, io, _no_file(sh, prog, name) if path not in sh.view.files else f"{prog}: {name}: Is a directory")
            status = 1
            continue
        data += content
    return data, status

