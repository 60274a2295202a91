"""The commands a container's shell understands, as a table ``name -> function(shell, argv, io)``
returning the exit status, and ``call``, which runs one of them (or says why it cannot); outputs
and error wordings follow busybox (busybox and Alpine images) or GNU coreutils (Debian-based images).

Why a table: ``kubesim: `X` is not emulated; this container understands: ...`` lists exactly
these names, and adding a command is one function (in the module of its job) and one line here.
The commands themselves live by job: :mod:`.shell_builtins`, :mod:`.files_commands`,
:mod:`.text_commands`, :mod:`.system_commands`, :mod:`.net` (wget/curl/nc), :mod:`.dns_commands`
(nslookup/dig/getent), :mod:`.archive` (tar); what they share about their streams is in
:mod:`.command_io`.
"""
from __future__ import annotations

import posixpath
from collections.abc import Callable

from . import archive, dns_commands, files_commands, net, shell_builtins, system_commands, text_commands
from .command_io import _err
from .filesystem import norm
from .shell import IO, PATH_DIRS, Shell

Command = Callable[[Shell, list[str], IO], int]
B, F, T, S = shell_builtins, files_commands, text_commands, system_commands
TABLE: dict[str, Command] = {
    # the shell's own builtins
    "sh": B._sh, "bash": B._sh, "ash": B._sh, "dash": B._sh, "exit": B._exit, "true": B._true, ":": B._true,
    "false": B._false, "export": B._export, "unset": B._unset, "set": B._set, "shift": B._shift, "read": B._read,
    "eval": B._eval, "source": B._source, ".": B._source, "wait": B._noop, "trap": B._noop, "ulimit": B._noop,
    "umask": B._noop, "alias": B._noop, "sync": B._noop, "type": B._which, "which": B._which, "command": B._which,
    "test": B._test, "[": B._test,
    # files
    "cd": F._cd, "pwd": F._pwd, "cat": F._cat, "ls": F._ls, "mkdir": F._mkdir, "touch": F._touch, "rm": F._rm,
    # text
    "echo": T._echo, "printf": T._printf, "head": T._head, "tail": T._tail, "grep": T._grep, "wc": T._wc, "sort": T._sort,
    # the process and the machine
    "env": S._env, "printenv": S._printenv, "hostname": S._hostname, "id": S._id, "whoami": S._whoami,
    "uname": S._uname, "date": S._date, "sleep": S._sleep, "ps": S._ps,
    # network, DNS, archives
    "wget": net._wget, "curl": net._curl, "nc": net._nc,
    "nslookup": dns_commands._nslookup, "getent": dns_commands._getent, "dig": dns_commands._dig,
    "tar": archive._tar,
}
BUILTINS = {"cd", "exit", "export", "unset", "set", "read", ":", "true", "false", "echo", "printf", "test", "[", "pwd",
            "type", "command", "source", ".", "shift", "wait", "trap", "ulimit", "umask", "eval", "return", "alias"}
USR_BIN = {"env", "wget", "nslookup", "nc", "id", "whoami", "head", "tail", "wc", "curl", "dig", "getent"}   # where `which` finds them
QUIET = {".", ":", "[", "alias", "sync", "trap", "ulimit", "umask", "wait", "shift", "eval", "dash", "source", "command",
         "set", "unset", "read"}                                                                         # not listed as 'understood'


def available(sh: Shell, name: str) -> bool:
    """Whether the image has the program ``name`` (rootfs.yaml's ``has``/``lacks``)."""
    if sh.view.family.shell == "none":
        return False
    return name in BUILTINS or sh.view.family.provides(name)


def call(sh: Shell, argv: list[str], io: IO, top: bool = False) -> int:
    """Run ``argv``: a builtin, a program of the table, or the honest 'not emulated' line."""
    word = argv[0]
    name = word.rsplit("/", 1)[-1] if "/" in word else word
    if "/" in word and posixpath.dirname(norm(word)) not in PATH_DIRS:
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


__all__ = ["TABLE", "call", "understood", "available"]
