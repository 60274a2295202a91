"""The commands that read and change the container's files: ``cd``, ``pwd``, ``cat``, ``ls``,
``mkdir``, ``touch``, ``rm``, worded as busybox or GNU coreutils word them.

Why separate: they are the ones that go through the view's files and overlay (read-only mounts,
modes, the container's start time in ``ls -l``); text filters only read bytes.
"""
from __future__ import annotations

import posixpath
import stat
from datetime import datetime, timezone

from .command_io import _err, _no_file
from .filesystem import norm
from .shell import IO, Shell


def _cd(sh: Shell, argv: list[str], io: IO) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/root")
    if target == "-":
        target = sh.vars.get("OLDPWD", sh.cwd)
    path = sh.path(target)
    if path not in sh.view.files or sh.view.files[path] is not None:
        why = "No such file or directory" if path not in sh.view.files else "Not a directory"
        _err(sh, io, f"bash: cd: {target}: {why}" if sh.bash else f"{sh.label}: cd: can't cd to {target}: {why}")
        return 1 if sh.bash else 2
    sh.vars["OLDPWD"] = sh.cwd
    sh.cwd = path
    return 0


def _pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.out((sh.cwd + "\n").encode())
    return 0


def _cat(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if a == "-" or not a.startswith("-")]
    status = 0
    if not names:
        names = ["-"]
    for name in names:
        if name == "-":
            while True:
                sh.check()
                chunk = io.stdin.read(4096)
                if not chunk:
                    break
                io.out(chunk)
            continue
        path = sh.path(name)
        if path not in sh.view.files:
            _err(sh, io, _no_file(sh, "cat", name))
            status = 1
        elif sh.view.files[path] is None:
            _err(sh, io, "cat: read error: Is a directory" if sh.view.family.busybox else f"cat: {name}: Is a directory")
            status = 1
        else:
            io.out(sh.view.files[path] or b"")
    return status


def _children(sh: Shell, path: str) -> list[str]:
    prefix = path.rstrip("/") + "/"
    return sorted({p[len(prefix):].split("/", 1)[0] for p in sh.view.files if p.startswith(prefix) and p != path})


def _mode_text(sh: Shell, path: str) -> str:
    if sh.view.files.get(path) is None:
        return "drwxr-xr-x"
    mode = sh.view.tree.modes.get(path, 0o644)
    return stat.filemode(stat.S_IFREG | mode)


def _ls(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and a != "-")
    names = [a for a in argv[1:] if not a.startswith("-") or a == "-"] or ["."]
    long, every, one = "l" in flags, "a" in flags or "A" in flags, "1" in flags
    status = 0
    blocks: list[str] = []
    files_first: list[str] = []
    stamp = datetime.fromtimestamp(sh.view.started_at or sh.view.now, timezone.utc).strftime("%b %e %H:%M")

    def line(path: str, shown: str) -> str:
        content = sh.view.files.get(path)
        size = len(content) if content is not None else 4096
        links = 2 if content is None else 1
        return f"{_mode_text(sh, path)} {links:>4} root     root     {size:>8} {stamp} {shown}"

    dirs = []
    for name in names:
        path = sh.path(name)
        if path not in sh.view.files:
            _err(sh, io, _no_file(sh, "ls", name))
            status = 2 if not sh.view.family.busybox else 1
        elif sh.view.files[path] is not None or "d" in flags:
            files_first.append(line(path, name) if long else name)
        else:
            dirs.append((name, path))
    if files_first:
        blocks.append("\n".join(files_first))
    for name, path in dirs:
        entries = _children(sh, path)
        if every:
            entries = ([".", ".."] if "a" in flags else []) + entries
        else:
            entries = [e for e in entries if not e.startswith(".")]
        if long:
            rows = [line(norm(posixpath.join(path, e)), e) for e in entries]
            text = f"total {len(entries) * 4}\n" + "\n".join(rows) if rows else "total 0"
        else:
            text = "\n".join(entries) if (one or not sh.terminal) else "  ".join(entries)
        if len(names) > 1:
            text = f"{name}:\n{text}"
        blocks.append(text)
    out = "\n\n".join(b for b in blocks if b)
    if out:
        io.out((out + "\n").encode())
    return status


def _mkdir(sh: Shell, argv: list[str], io: IO) -> int:
    parents = any("p" in a for a in argv[1:] if a.startswith("-"))
    status = 0
    for name in (a for a in argv[1:] if not a.startswith("-")):
        path = sh.path(name)
        if path in sh.view.files:
            if not parents:
                _err(sh, io, f"mkdir: can't create directory '{name}': File exists" if sh.view.family.busybox
                     else f"mkdir: cannot create directory '{name}': File exists")
                status = 1
            continue
        todo = [path]
        if parents:
            parent = posixpath.dirname(path)
            while parent not in sh.view.files:
                todo.insert(0, parent)
                parent = posixpath.dirname(parent)
        for p in todo:
            problem = sh.view.write(p, None, directory=True)
            if problem:
                _err(sh, io, f"mkdir: can't create directory '{name}': {problem}" if sh.view.family.busybox
                     else f"mkdir: cannot create directory '{name}': {problem}")
                status = 1
                break
    return status


def _touch(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for name in (a for a in argv[1:] if not a.startswith("-")):
        path = sh.path(name)
        if path in sh.view.files:
            if sh.view.tree.is_readonly(path):
                _err(sh, io, f"touch: {name}: Read-only file system" if sh.view.family.busybox
                     else f"touch: cannot touch '{name}': Read-only file system")
                status = 1
            continue
        problem = sh.view.write(path, b"")
        if problem:
            _err(sh, io, f"touch: {name}: {problem}" if sh.view.family.busybox else f"touch: cannot touch '{name}': {problem}")
            status = 1
    return status


def _rm(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
    force, recursive = "f" in flags, "r" in flags or "R" in flags
    status = 0
    for name in (a for a in argv[1:] if not a.startswith("-")):
        path = sh.path(name)
        if path not in sh.view.files:
            if not force:
                _err(sh, io, f"rm: can't remove '{name}': No such file or directory" if sh.view.family.busybox
                     else f"rm: cannot remove '{name}': No such file or directory")
                status = 1
            continue
        if sh.view.files[path] is None and not recursive:
            _err(sh, io, f"rm: '{name}' is a directory" if sh.view.family.busybox else f"rm: cannot remove '{name}': Is a directory")
            status = 1
            continue
        problem = sh.view.write(path, None)
        if problem:
            _err(sh, io, f"rm: can't remove '{name}': {problem}" if sh.view.family.busybox else f"rm: cannot remove '{name}': {problem}")
            status = 1
    return status

