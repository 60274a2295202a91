"""``tar`` enough for ``kubectl cp``: ``tar cf - PATH`` (copy out of a pod) and
``tar xmf - -C DIR`` (copy into it, with kubectl's ``--no-same-permissions --no-same-owner``),
``tar tf -``, written with Python's tarfile over the container's files and overlay.
"""
from __future__ import annotations

import io as _io
import tarfile

from .command_io import _err
from .filesystem import norm
from .shell import IO, Shell


def _tar(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    mode, archive, directory, gz, verbose = "", None, None, False, False
    paths: list[str] = []
    i = 0
    first = True
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if a.startswith("--directory="):
                directory = a.split("=", 1)[1]
            elif a.startswith("--file="):
                archive = a.split("=", 1)[1]
            i += 1
            continue
        if a == "-C" and i + 1 < len(args):
            directory = args[i + 1]
            i += 2
            continue
        if a.startswith("-") or (first and not paths and a and all(c in "cxtfvzmpoC" for c in a)):
            letters = a.lstrip("-")
            for j, c in enumerate(letters):
                if c in "cxt":
                    mode = c
                elif c == "z":
                    gz = True
                elif c == "v":
                    verbose = True
                elif c == "f":
                    if i + 1 < len(args):
                        archive = args[i + 1]
                        i += 1
                elif c == "C" and i + 1 < len(args):
                    directory = args[i + 1]
                    i += 1
            first = False
            i += 1
            continue
        paths.append(a)
        first = False
        i += 1
    if not mode:
        _err(sh, io, "tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options\n"
             "Try 'tar --help' or 'tar --usage' for more information.")
        return 2
    base = norm(sh.path(directory)) if directory else sh.cwd
    if mode == "c":
        buf = _io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
            for p in paths:
                full = norm(p if p.startswith("/") else base.rstrip("/") + "/" + p)
                if full not in sh.view.files:
                    _err(sh, io, f"tar: {p}: Cannot stat: No such file or directory")
                    continue
                if p.startswith("/"):
                    _err(sh, io, "tar: Removing leading `/' from member names")
                for path in sorted(q for q in sh.view.files if q == full or q.startswith(full.rstrip("/") + "/")):
                    rel = path[len(base.rstrip("/")) + 1:] if not p.startswith("/") else path.lstrip("/")
                    content = sh.view.files[path]
                    info = tarfile.TarInfo(rel or ".")
                    info.mtime = int(sh.view.now)
                    if content is None:
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                    else:
                        info.size, info.mode = len(content), sh.view.tree.modes.get(path, 0o644)
                        tar.addfile(info, _io.BytesIO(content))
                    if verbose:
                        _err(sh, io, rel)
        data = buf.getvalue()
        if archive in (None, "-"):
            io.out(data)
        else:
            problem = sh.view.write(sh.path(archive), data)
            if problem:
                _err(sh, io, f"tar: {archive}: Cannot open: {problem}")
                return 2
        return 0
    if archive in (None, "-"):
        data = io.stdin.read()
    else:
        data = sh.view.files.get(sh.path(archive)) or b""
    if base not in sh.view.files:
        _err(sh, io, f"tar: {directory}: Cannot open: No such file or directory")
        return 2
    try:
        tar = tarfile.open(fileobj=_io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, EOFError):
        _err(sh, io, "tar: This does not look like a tar archive\ntar: Exiting with failure status due to previous errors")
        return 2
    status = 0
    with tar:
        for member in tar.getmembers():
            name = member.name.lstrip("/")
            if mode == "t":
                io.out((name + "\n").encode())
                continue
            target = norm(base + "/" + name)
            if not (target == base or target.startswith(base.rstrip("/") + "/")):
                continue
            if member.isdir():
                problem = "" if sh.view.files.get(target, b"") is None else sh.view.write(target, None, directory=True)
            elif member.isfile():
                parent = target.rsplit("/", 1)[0] or "/"
                missing = []
                while parent not in sh.view.files:
                    missing.insert(0, parent)
                    parent = parent.rsplit("/", 1)[0] or "/"
                for d in missing:
                    sh.view.write(d, None, directory=True)
                fh = tar.extractfile(member)
                problem = sh.view.write(target, fh.read() if fh else b"")
            else:
                continue
            if problem:
                _err(sh, io, f"tar: {name}: Cannot open: {problem}")
                status = 2
            elif verbose:
                _err(sh, io, name)
    return status
