"""The shell's own builtins: ``sh``/``bash``, ``exit``, ``true``/``false``, ``export``, ``unset``,
``set``, ``shift``, ``read``, ``eval``, ``source``, ``type``/``which``/``command``, ``test``/``[``
and the ones that do nothing here (``wait``, ``trap``, ``ulimit``...).

Why separate: they change the shell itself (its variables, arguments, exit) rather than files or
text, and ``type``/``command`` look into the table (:mod:`.commands`, imported when called: the
table imports this module).
"""
from __future__ import annotations

from .command_io import _err
from .shell import IO, Shell, ShellExit, shell_main


def _sh(sh: Shell, argv: list[str], io: IO) -> int:
    return shell_main(sh, sh.view, argv, io, sh.terminal, sh.store)


def _exit(sh: Shell, argv: list[str], io: IO) -> int:
    code = sh.status
    if len(argv) > 1:
        try:
            code = int(argv[1]) & 0xFF
        except ValueError:
            _err(sh, io, f"bash: exit: {argv[1]}: numeric argument required" if sh.bash else f"{sh.label}: exit: Illegal number: {argv[1]}")
            code = 2
    if sh.interactive and sh.bash:
        io.out(b"exit\n")
    raise ShellExit(code)


def _true(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


def _false(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


def _export(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1 or argv[1:] == ["-p"]:
        for k in sorted(sh.exported):
            if k in sh.vars:
                io.out((f"declare -x {k}=\"{sh.vars[k]}\"\n" if sh.bash else f"export {k}='{sh.vars[k]}'\n").encode())
        return 0
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            sh.vars[name] = value
        sh.exported.add(name)
    return 0


def _unset(sh: Shell, argv: list[str], io: IO) -> int:
    for name in argv[1:]:
        if not name.startswith("-"):
            sh.vars.pop(name, None)
            sh.exported.discard(name)
    return 0


def _set(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1:
        for k in sorted(sh.vars):
            io.out(f"{k}='{sh.vars[k]}'\n".encode())
    elif argv[1] == "--":
        sh.args = argv[2:]
    return 0


def _shift(sh: Shell, argv: list[str], io: IO) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    sh.args = sh.args[n:]
    return 0


def _read(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")] or ["REPLY"]
    line = io.stdin.readline()
    if not line:
        return 1
    words = line.decode(errors="replace").rstrip("\n").split(None, len(names) - 1)
    for i, name in enumerate(names):
        sh.vars[name] = words[i] if i < len(words) else ""
    return 0


def _eval(sh: Shell, argv: list[str], io: IO) -> int:
    return sh.run_text(" ".join(argv[1:]), io)


def _source(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        return 0
    content = sh.view.files.get(sh.path(argv[1]))
    if content is None:
        _err(sh, io, f"{sh.label}: .: {argv[1]}: No such file or directory" if sh.bash else f"{sh.label}: .: can't open '{argv[1]}'")
        return 1 if sh.bash else 2
    return sh.run_text(content.decode(errors="replace"), io)


def _noop(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


def _which(sh: Shell, argv: list[str], io: IO) -> int:
    from .commands import BUILTINS, TABLE, USR_BIN, available, call
    args = [a for a in argv[1:] if not a.startswith("-")]
    if argv[0] == "command" and args and "-v" not in argv[1:]:
        return call(sh, args, io)
    status = 0
    for name in args:
        if name in TABLE and available(sh, name):
            if name in BUILTINS and argv[0] != "which":
                io.out((f"{name} is a shell builtin\n" if argv[0] == "type" else f"{name}\n").encode())
            else:
                where = "/usr/bin/" if name in USR_BIN else "/bin/"
                io.out((f"{name} is {where}{name}\n" if argv[0] == "type" else f"{where}{name}\n").encode())
        else:
            status = 1
            if argv[0] == "type":
                _err(sh, io, f"bash: type: {name}: not found" if sh.bash else f"{name}: not found")
    return status


def _test(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            _err(sh, io, f"{sh.label}: [: missing ]" if not sh.bash else "bash: [: missing `]'")
            return 2
        args = args[:-1]
    try:
        return 0 if _truth(sh, args) else 1
    except ValueError as err:
        _err(sh, io, f"{sh.label}: {argv[0]}: {err}")
        return 2


def _truth(sh: Shell, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!":
        return not _truth(sh, args[1:])
    for op in ("-o", "-a"):
        if op in args:
            i = args.index(op)
            left, right = _truth(sh, args[:i]), _truth(sh, args[i + 1:])
            return (left or right) if op == "-o" else (left and right)
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, arg = args
        path = sh.path(arg)
        files = sh.view.files
        checks = {"-e": path in files, "-f": files.get(path) is not None and path in files, "-d": path in files and files[path] is None,
                  "-s": bool(files.get(path)), "-r": path in files, "-w": path in files and not sh.view.tree.is_readonly(path),
                  "-x": path in files and files[path] is None, "-n": arg != "", "-z": arg == "", "-L": False, "-h": False}
        if op in checks:
            return checks[op]
        raise ValueError(f"{op}: unary operator expected")
    if len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            try:
                x, y = int(a), int(b)
            except ValueError:
                bad = a if not a.lstrip("-").isdigit() else b
                raise ValueError(f"{'integer expression expected' if sh.bash else 'Illegal number'}: {bad}") from None
            return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]
    raise ValueError("syntax error")

