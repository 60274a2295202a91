"""The commands a container's shell understands, as a table ``name -> function(shell, argv, io)``
returning the exit status; outputs and error wordings follow busybox (busybox and Alpine
images) or GNU coreutils (Debian-based images).

Why a table: ``kubesim: `X` is not emulated; this container understands: ...`` lists exactly
these names, and adding a command is one function and one line.
"""
from __future__ import annotations

import posixpath
import re
import stat
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from . import syntax
from .filesystem import norm
from .shell import IO, Shell, ShellExit, shell_main

Command = Callable[[Shell, list[str], IO], int]
TABLE: dict[str, Command] = {}
BUILTINS = {"cd", "exit", "export", "unset", "set", "read", ":", "true", "false", "echo", "printf", "test", "[", "pwd",
            "type", "command", "source", ".", "shift", "wait", "trap", "ulimit", "umask", "eval", "return", "alias"}
BUSYBOX_ONLY: set[str] = set()
NOT_IN_BUSYBOX = {"getent", "dig", "curl", "bash"}
NOT_IN_DEBIAN = {"nslookup", "dig", "wget", "nc", "ash", "curl"}
DNSUTILS = {"nslookup", "dig"}


def command(*names: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        for n in names:
            TABLE[n] = fn
        return fn
    return register


def _err(sh: Shell, io: IO, text: str) -> None:
    io.err((text if text.endswith("\n") else text + "\n").encode())


def available(sh: Shell, name: str) -> bool:
    """Whether the image has the program ``name`` (busybox has no bash or curl; Debian has no wget)."""
    fam = sh.view.family
    if fam.shell == "none":
        return False
    if name in BUILTINS:
        return True
    image = sh.view.image.ref
    if "curlimages/curl" in image and name in ("curl", "nslookup", "nc"):
        return True
    if "dnsutils" in image and name in DNSUTILS:
        return True
    if "netshoot" in image or "agnhost" in image:
        return True
    if fam.busybox:
        if name in NOT_IN_BUSYBOX:
            return fam.name != "busybox" and name in ("getent",)
        return True
    if name in NOT_IN_DEBIAN:
        return False
    return True


def call(sh: Shell, argv: list[str], io: IO, top: bool = False) -> int:
    """Run ``argv``: a builtin, a program of the table, or the honest 'not emulated' line."""
    word = argv[0]
    name = word.rsplit("/", 1)[-1] if "/" in word else word
    if "/" in word and posixpath.dirname(norm(word)) not in ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"):
        if sh.path(word) not in sh.view.files:
            return _missing(sh, word, io, top, "No such file or directory")
    fn = TABLE.get(name)
    if fn is not None and not available(sh, name):
        return _missing(sh, word, io, top)
    if fn is None:
        if sh.view.family.shell == "none":
            return _missing(sh, word, io, top)
        _err(sh, io, f"kubesim: `{word}` is not emulated; this container understands: {', '.join(understood(sh))}")
        return 127
    sh.check()
    return fn(sh, argv, io)


QUIET = {".", ":", "[", "alias", "sync", "trap", "ulimit", "umask", "wait", "shift", "eval", "dash", "source", "command",
         "set", "unset", "read"}


def understood(sh: Shell) -> list[str]:
    """The commands named in the 'not emulated' line (the ones a learner would look for)."""
    return sorted(n for n in TABLE if available(sh, n) and n not in QUIET)


def _missing(sh: Shell, word: str, io: IO, top: bool, why: str = "") -> int:
    if top:
        what = f'exec: "{word}": ' + (f"stat {word}: no such file or directory" if why else "executable file not found in $PATH")
        _err(sh, io, f"OCI runtime exec failed: exec failed: unable to start container process: {what}: unknown")
        return 126 if not why else 127
    if sh.bash:
        _err(sh, io, f"bash: {word}: {why or 'command not found'}")
    else:
        _err(sh, io, f"{sh.label}: {word}: not found")
    return 127


# ---- shells and builtins -----------------------------------------------------------------
@command("sh", "bash", "ash", "dash")
def _sh(sh: Shell, argv: list[str], io: IO) -> int:
    return shell_main(sh, sh.view, argv, io, sh.terminal, sh.store)


@command("exit")
def _exit(sh: Shell, argv: list[str], io: IO) -> int:
    code = sh.status
    if len(argv) > 1:
        try:
            code = int(argv[1]) & 0xFF
        except ValueError:
            _err(sh, io, f"{sh.label}: exit: {'Illegal number' if not sh.bash else argv[1] + ': numeric argument required'}" + (f": {argv[1]}" if not sh.bash else ""))
            code = 2
    raise ShellExit(code)


@command("true", ":")
def _true(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("false")
def _false(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


@command("echo")
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


@command("printf")
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


@command("cd")
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


@command("pwd")
def _pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.out((sh.cwd + "\n").encode())
    return 0


@command("export")
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


@command("unset")
def _unset(sh: Shell, argv: list[str], io: IO) -> int:
    for name in argv[1:]:
        if not name.startswith("-"):
            sh.vars.pop(name, None)
            sh.exported.discard(name)
    return 0


@command("set")
def _set(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1:
        for k in sorted(sh.vars):
            io.out(f"{k}='{sh.vars[k]}'\n".encode())
    elif argv[1] == "--":
        sh.args = argv[2:]
    return 0


@command("shift")
def _shift(sh: Shell, argv: list[str], io: IO) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    sh.args = sh.args[n:]
    return 0


@command("read")
def _read(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")] or ["REPLY"]
    line = io.stdin.readline()
    if not line:
        return 1
    words = line.decode(errors="replace").rstrip("\n").split(None, len(names) - 1)
    for i, name in enumerate(names):
        sh.vars[name] = words[i] if i < len(words) else ""
    return 0


@command("eval")
def _eval(sh: Shell, argv: list[str], io: IO) -> int:
    return sh.run_text(" ".join(argv[1:]), io)


@command("source", ".")
def _source(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        return 0
    content = sh.view.files.get(sh.path(argv[1]))
    if content is None:
        _err(sh, io, f"{sh.label}: .: {argv[1]}: No such file or directory" if sh.bash else f"{sh.label}: .: can't open '{argv[1]}'")
        return 1 if sh.bash else 2
    return sh.run_text(content.decode(errors="replace"), io)


@command("wait", "trap", "ulimit", "umask", "alias", "sync")
def _noop(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("type", "which", "command")
def _which(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    if argv[0] == "command" and args and "-v" not in argv[1:]:
        return call(sh, args, io)
    status = 0
    for name in args:
        if name in TABLE and available(sh, name):
            if name in BUILTINS and argv[0] != "which":
                io.out((f"{name} is a shell builtin\n" if argv[0] == "type" else f"{name}\n").encode())
            else:
                where = "/usr/bin/" if name in ("env", "wget", "nslookup", "nc", "id", "whoami", "head", "tail", "wc", "curl", "dig", "getent") else "/bin/"
                io.out((f"{name} is {where}{name}\n" if argv[0] == "type" else f"{where}{name}\n").encode())
        else:
            status = 1
            if argv[0] == "type":
                _err(sh, io, f"bash: type: {name}: not found" if sh.bash else f"{name}: not found")
    return status


# ---- environment and identity ------------------------------------------------------------
@command("env")
def _env(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    env = {k: v for k, v in sh.vars.items() if k in sh.exported}
    if args and args[0] in ("-i", "-"):
        env, args = {}, args[1:]
    while args and "=" in args[0] and not args[0].startswith("="):
        k, _, v = args[0].partition("=")
        env[k] = v
        args = args[1:]
    if args:
        saved_vars, saved_exp = sh.vars, sh.exported
        sh.vars, sh.exported = dict(env), set(env)
        try:
            return call(sh, args, io)
        finally:
            sh.vars, sh.exported = saved_vars, saved_exp
    io.out("".join(f"{k}={v}\n" for k, v in env.items()).encode())
    return 0


@command("printenv")
def _printenv(sh: Shell, argv: list[str], io: IO) -> int:
    env = {k: v for k, v in sh.vars.items() if k in sh.exported}
    if len(argv) == 1:
        io.out("".join(f"{k}={v}\n" for k, v in env.items()).encode())
        return 0
    status = 0
    for name in argv[1:]:
        if name in env:
            io.out((env[name] + "\n").encode())
        else:
            status = 1
    return status


@command("hostname")
def _hostname(sh: Shell, argv: list[str], io: IO) -> int:
    if "-i" in argv[1:] or "-I" in argv[1:]:
        io.out((sh.view.pod_ip + ("" if "-i" in argv[1:] else " ") + "\n").encode())
        return 0
    io.out((sh.view.hostname + "\n").encode())
    return 0


@command("id")
def _id(sh: Shell, argv: list[str], io: IO) -> int:
    uid = _uid(sh)
    if "-u" in argv[1:]:
        io.out(f"{uid}\n".encode())
    elif "-un" in argv[1:] or "-nu" in argv[1:]:
        io.out((_user(uid) + "\n").encode())
    elif uid == 0 and sh.view.family.busybox:
        io.out(b"uid=0(root) gid=0(root) groups=0(root),10(wheel)\n")
    elif uid == 0:
        io.out(b"uid=0(root) gid=0(root) groups=0(root)\n")
    else:
        gid = _gid(sh)
        io.out(f"uid={uid}({_user(uid)}) gid={gid}({_user(gid)}) groups={gid}({_user(gid)})\n".encode())
    return 0


def _uid(sh: Shell) -> int:
    ctx = {**((sh.view.pod.get("spec") or {}).get("securityContext") or {}), **(sh.view.spec.get("securityContext") or {})}
    return int(ctx.get("runAsUser", 0) or 0)


def _gid(sh: Shell) -> int:
    ctx = {**((sh.view.pod.get("spec") or {}).get("securityContext") or {}), **(sh.view.spec.get("securityContext") or {})}
    return int(ctx.get("runAsGroup", _uid(sh)) or 0)


def _user(uid: int) -> str:
    return {0: "root", 65534: "nobody", 101: "nginx", 1000: "node"}.get(uid, str(uid))


@command("whoami")
def _whoami(sh: Shell, argv: list[str], io: IO) -> int:
    uid = _uid(sh)
    name = _user(uid)
    if name.isdigit():
        _err(sh, io, f"whoami: unknown uid {uid}" if sh.view.family.busybox else f"whoami: cannot find name for user ID {uid}")
        return 1
    io.out((name + "\n").encode())
    return 0


@command("uname")
def _uname(sh: Shell, argv: list[str], io: IO) -> int:
    kernel, release, machine = "Linux", "6.8.0-kubesim", "x86_64"
    version = "#1 SMP PREEMPT_DYNAMIC Mon Jan  5 00:00:00 UTC 2026"
    node = (sh.view.pod.get("spec") or {}).get("nodeName", "") if (sh.view.pod.get("spec") or {}).get("hostNetwork") else sh.view.hostname
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
    if not flags:
        parts = [kernel]
    elif "a" in flags:
        parts = [kernel, node, release, version, machine] + ([] if sh.view.family.busybox else [machine, machine]) + ["GNU/Linux" if not sh.view.family.busybox else "GNU/Linux"]
    else:
        parts = [v for f, v in (("s", kernel), ("n", node), ("r", release), ("v", version), ("m", machine), ("o", "GNU/Linux")) if f in flags]
    io.out((" ".join(parts) + "\n").encode())
    return 0


@command("date")
def _date(sh: Shell, argv: list[str], io: IO) -> int:
    now = datetime.fromtimestamp(sh.view.clock(), timezone.utc)
    fmt = next((a[1:] for a in argv[1:] if a.startswith("+")), None)
    if fmt is not None:
        io.out((now.strftime(fmt.replace("%N", "000000000")) + "\n").encode())
    elif "-u" in argv[1:] or "-R" not in argv[1:]:
        io.out((now.strftime("%a %b %e %H:%M:%S UTC %Y") + "\n").encode())
    return 0


@command("sleep")
def _sleep(sh: Shell, argv: list[str], io: IO) -> int:
    total = 0.0
    for arg in argv[1:]:
        m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)", arg)
        if arg in ("infinity", "inf"):
            total = float("inf")
            continue
        if not m:
            _err(sh, io, f"sleep: invalid number '{arg}'" if sh.view.family.busybox else f"sleep: invalid time interval '{arg}'")
            return 1
        total += float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if len(argv) < 2:
        _err(sh, io, "sleep: missing operand" if not sh.view.family.busybox else "Usage: sleep [N]...")
        return 1
    deadline = time.monotonic() + total
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        if sh.terminal is not None:
            if sh.terminal.interrupt.wait(min(left, 1.0)):
                sh.check()
        else:
            time.sleep(min(left, 1.0))


@command("ps")
def _ps(sh: Shell, argv: list[str], io: IO) -> int:
    pid1 = " ".join(sh.view.command())
    me = sh.name if sh.name else "sh"
    if sh.view.family.busybox:
        io.out(f"PID   USER     TIME  COMMAND\n    1 root      0:00 {pid1}\n{sh.pid:>5} root      0:00 {me}\n"
               f"{sh.pid + 6:>5} root      0:00 ps {' '.join(argv[1:])}".rstrip().encode() + b"\n")
        return 0
    full = any("a" in a or "e" in a or "x" in a for a in argv[1:])
    if full:
        io.out(("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
                f"root           1  0.0  0.1   4264  3456 ?        Ss   00:00   0:00 {pid1}\n"
                f"root         {sh.pid:>3}  0.0  0.0   4188  3400 pts/0    Ss   00:00   0:00 {me}\n"
                f"root         {sh.pid + 6:>3}  0.0  0.0   8100  4000 pts/0    R+   00:00   0:00 ps {' '.join(argv[1:])}\n").encode())
    else:
        io.out((f"    PID TTY          TIME CMD\n      1 ?        00:00:00 {sh.view.command()[0].rsplit('/', 1)[-1]}\n"
                f"{sh.pid:>7} pts/0    00:00:00 {me.rsplit('/', 1)[-1]}\n{sh.pid + 6:>7} pts/0    00:00:00 ps\n").encode())
    return 0


# ---- files -------------------------------------------------------------------------------
def _no_file(sh: Shell, prog: str, target: str, why: str = "No such file or directory") -> str:
    if sh.view.family.busybox:
        return f"{prog}: can't open '{target}': {why}" if prog == "cat" else f"{prog}: {target}: {why}"
    return f"{prog}: {target}: {why}" if prog == "cat" else f"{prog}: cannot access '{target}': {why}"


@command("cat")
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
            _err(sh, io, f"cat: read error: Is a directory" if sh.view.family.busybox else f"cat: {name}: Is a directory")
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


@command("ls")
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


@command("mkdir")
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


@command("touch")
def _touch(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for name in (a for a in argv[1:] if not a.startswith("-")):
        path = sh.path(name)
        if path in sh.view.files:
            if sh.view.tree.is_readonly(path):
                _err(sh, io, f"touch: {name}: Read-only file system" if sh.view.family.busybox else f"touch: cannot touch '{name}': Read-only file system")
                status = 1
            continue
        problem = sh.view.write(path, b"")
        if problem:
            _err(sh, io, f"touch: {name}: {problem}" if sh.view.family.busybox else f"touch: cannot touch '{name}': {problem}")
            status = 1
    return status


@command("rm")
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


@command("test", "[")
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
                raise ValueError(f"{'Illegal number' if not sh.bash else 'integer expression expected'}: {a if not a.lstrip('-').isdigit() else b}") from None
            return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]
    raise ValueError("syntax error")


# ---- text filters ------------------------------------------------------------------------
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


@command("head")
def _head(sh: Shell, argv: list[str], io: IO) -> int:
    n, names = _count_arg(argv)
    data, status = _input_of(sh, names, io, "head")
    io.out(b"".join(data.splitlines(keepends=True)[:n]))
    return status


@command("tail")
def _tail(sh: Shell, argv: list[str], io: IO) -> int:
    n, names = _count_arg(argv)
    data, status = _input_of(sh, names, io, "tail")
    lines = data.splitlines(keepends=True)
    io.out(b"".join(lines[-n:] if n else []))
    return status


@command("grep")
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


@command("wc")
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


@command("sort")
def _sort(sh: Shell, argv: list[str], io: IO) -> int:
    names = [a for a in argv[1:] if not a.startswith("-")]
    data, status = _input_of(sh, names, io, "sort")
    lines = data.decode(errors="replace").splitlines()
    lines.sort(reverse="-r" in argv)
    if "-u" in argv:
        lines = list(dict.fromkeys(lines))
    io.out("".join(line + "\n" for line in lines).encode())
    return status


# network, DNS and archives live in their own modules and register themselves here
from . import net as _net  # noqa: E402,F401
from . import dns_commands as _dns  # noqa: E402,F401
from . import archive as _archive  # noqa: E402,F401

__all__ = ["TABLE", "call", "command", "understood", "syntax", "Any"]
