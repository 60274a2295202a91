"""Running command lines in a container's view: pipes, redirects, control flow, sessions, and
the entry point ``run`` that exec and attach call (what the words become is :mod:`.expansion`'s,
a mixin of ``Shell``; the programs are :mod:`.commands`' table).

The flavour follows the image: busybox ``sh`` (ash) for busybox and Alpine images, bash for the
Debian-based ones (prompt ``/ # `` or ``root@HOSTNAME:/# ``, their error wordings). A pipe runs
its commands one after the other, each reading what the one before wrote (enough for ``| head``,
``| grep X``, ``| wc -l``); ``&`` runs a command in the foreground. Nothing runs on the host.
"""
from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import syntax
from .expansion import Expander
from .filesystem import norm
from .terminal import Input, Terminal, crlf

Write = Callable[[bytes], None]
SHELLS = {"sh": "sh", "ash": "ash", "bash": "bash", "dash": "sh"}
PATH_DIRS = ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")


class ShellExit(Exception):
    """``exit N``: leaves the shell (and a subshell) with N."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class Interrupted(Exception):
    """^C on the terminal while a command ran."""


@dataclass
class IO:
    """A command's standard streams."""

    stdin: Input
    out: Write
    err: Write


class Capture:
    """A writer that keeps what it is given (pipes, ``$(...)``, redirects)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.chunks.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class Shell(Expander):
    """One shell process in a container: its variables, working directory and last status."""

    def __init__(self, view: Any, io: IO, name: str = "sh", terminal: Terminal | None = None,
                 args: list[str] | None = None, store: Any = None, process: bool = True):
        self.view = view
        self.process = process                  # False: the exec itself, no shell process (``ps`` shows none)
        self.io = io
        self.name = name                        # $0
        self.args = list(args or [])            # $1...
        self.vars: dict[str, str] = dict(view.env)
        self.exported: set[str] = set(view.env)
        self.cwd = view.spec.get("workingDir") or "/"
        self.status = 0
        self.terminal = terminal
        self.store = store if store is not None else view.store
        self.pid = 7 if terminal is None else 13
        self.interactive = False                # reading commands from a terminal (bash says "exit")

    # ---- flavour -----------------------------------------------------------------------
    @property
    def bash(self) -> bool:
        return self.view.family.shell == "bash" and self.name.endswith("bash")

    @property
    def label(self) -> str:
        """How the shell names itself in error messages."""
        return "bash" if self.bash else ("sh" if self.view.family.busybox else self.name.rsplit("/", 1)[-1])

    def prompt(self) -> bytes:
        if self.view.family.busybox or not self.bash:
            if self.view.family.busybox:
                return f"{self.short_cwd()} # ".encode()
            return b"# "
        return f"root@{self.view.hostname}:{self.short_cwd(tilde=True)}# ".encode()

    def short_cwd(self, tilde: bool = False) -> str:
        home = self.vars.get("HOME", "/root")
        if tilde and (self.cwd == home or self.cwd.startswith(home + "/")):
            return "~" + self.cwd[len(home):]
        return self.cwd

    # ---- paths -----------------------------------------------------------------------
    def path(self, name: str) -> str:
        return norm(posixpath.join(self.cwd, name)) if name else self.cwd

    def check(self) -> None:
        if self.terminal is not None and self.terminal.interrupt.is_set():
            raise Interrupted()

    # ---- running ---------------------------------------------------------------------
    def run_text(self, text: str, io: IO | None = None) -> int:
        io = io or self.io
        try:
            tree = syntax.parse(text)
        except syntax.ShellSyntaxError as err:
            io.err(f"{self.label}: {err}\n".encode() if not self.bash else f"bash: {err}\n".encode())
            self.status = 2
            return 2
        return self.run_list(tree, io)

    def run_list(self, items: list[syntax.AndOr], io: IO) -> int:
        for item in items:
            self.run_and_or(item, io)
        return self.status

    def run_and_or(self, node: syntax.AndOr, io: IO) -> int:
        status = self.run_pipeline(node.first, io)
        for op, pipe in node.rest:
            if (op == "&&" and status == 0) or (op == "||" and status != 0):
                status = self.run_pipeline(pipe, io)
        self.status = status if not node.background else 0
        return self.status

    def run_pipeline(self, node: syntax.Pipeline, io: IO) -> int:
        stdin = io.stdin
        status = 0
        for i, cmd in enumerate(node.commands):
            last = i == len(node.commands) - 1
            out: Write = io.out
            cap = None
            if not last:
                cap = Capture()
                out = cap
            status = self.run_command(cmd, IO(stdin, out, io.err))
            if cap is not None:
                stdin = Input(data=cap.data)
        if node.negate:
            status = 0 if status else 1
        self.status = status
        return status

    def run_command(self, node: object, io: IO) -> int:
        self.check()
        if isinstance(node, syntax.Simple):
            return self.run_simple(node, io)
        if isinstance(node, syntax.Group):
            io2 = self._redirect(node.redirects, io)
            if io2 is None:
                return 1
            io2, finish = io2
            if node.subshell:
                saved = (dict(self.vars), set(self.exported), self.cwd)
                try:
                    status = self.run_list(node.body, io2)
                except ShellExit as e:
                    status = e.code
                self.vars, self.exported, self.cwd = saved
            else:
                status = self.run_list(node.body, io2)
            finish()
            return status
        if isinstance(node, syntax.If):
            for cond, body in node.branches:
                if self.run_list(cond, io) == 0:
                    return self.run_list(body, io)
            if node.otherwise is not None:
                return self.run_list(node.otherwise, io)
            self.status = 0
            return 0
        if isinstance(node, syntax.Loop):
            status = 0
            while True:
                self.check()
                ok = self.run_list(node.cond, io) == 0
                if ok == node.until:
                    break
                status = self.run_list(node.body, io)
            self.status = status
            return status
        if isinstance(node, syntax.For):
            items = self.expand_words(node.items) if node.items is not None else list(self.args)
            status = 0
            for item in items:
                self.check()
                self.vars[node.name] = item
                status = self.run_list(node.body, io)
            self.status = status
            return status
        return 0

    def run_simple(self, node: syntax.Simple, io: IO) -> int:
        from . import commands
        assigns = []
        for word in node.assigns:
            text = self.expand_word(word)
            name, _, value = text.partition("=")
            assigns.append((name, value))
        argv = self.expand_words(node.words)
        redirected = self._redirect(node.redirects, io)
        if redirected is None:
            self.status = 1
            return 1
        io2, finish = redirected
        if not argv:
            for name, value in assigns:
                self.vars[name] = value
            finish()
            self.status = 0
            return 0
        saved = {n: self.vars.get(n) for n, _ in assigns}
        for name, value in assigns:
            self.vars[name] = value
            self.exported.add(name)
        try:
            status = commands.call(self, argv, io2)
        finally:
            for name, old in saved.items():
                if old is None:
                    self.vars.pop(name, None)
                else:
                    self.vars[name] = old
            finish()
        self.status = status
        return status

    def _redirect(self, reds: list[syntax.Redirect], io: IO) -> tuple[IO, Callable[[], None]] | None:
        """The streams after ``>``, ``>>``, ``<``, ``2>``, ``2>&1``; None (and the error printed) when
        a file cannot be opened. ``finish`` writes the captured output to the files."""
        stdin, out, err = io.stdin, io.out, io.err
        pending: list[tuple[str, Capture, bool]] = []
        for red in reds:
            if red.target is None:
                if red.op == ">&":
                    err = out
                else:
                    out = err
                continue
            target = self.expand_word(red.target)
            path = self.path(target)
            if red.op == "<":
                content = self.view.files.get(path)
                if content is None:
                    what = "No such file or directory" if path not in self.view.files else "Is a directory"
                    io.err(self._cant("open", target, what))
                    return None
                stdin = Input(data=content)
                continue
            if target == "/dev/null":
                sink: Write = lambda data: None  # noqa: E731
            else:
                if self.view.files.get(path, b"") is None:
                    io.err(self._cant("create", target, "Is a directory"))
                    return None
                problem = self.view.write(path, (self.view.files.get(path) or b"") if red.op == ">>" else b"")
                if problem:
                    io.err(self._cant("create", target, problem))
                    return None
                cap = Capture()
                pending.append((path, cap, red.op == ">>"))
                sink = cap
            if red.fd == 2:
                err = sink
            else:
                out = sink

        def finish() -> None:
            for path, cap, append in pending:
                before = self.view.files.get(path) or b""
                self.view.write(path, before + cap.data)
        return IO(stdin, out, err), finish

    def _cant(self, verb: str, target: str, why: str) -> bytes:
        if self.bash:
            return f"bash: {target}: {why}\n".encode()
        return f"{self.label}: can't {verb} {target}: {why}\n".encode()

    def command_output(self, script: str) -> str:
        """What ``script`` prints, run in a subshell (``$(...)``), trailing newlines removed; the
        subshell's status becomes this shell's ``$?``."""
        cap = Capture()
        sub = Shell(self.view, IO(self.io.stdin, cap, self.io.err), self.name, self.terminal, self.args, self.store)
        sub.vars, sub.exported, sub.cwd, sub.status = dict(self.vars), set(self.exported), self.cwd, self.status
        try:
            sub.run_text(script, IO(Input(data=b""), cap, self.io.err))
        except ShellExit as e:
            sub.status = e.code
        self.status = sub.status
        return cap.data.decode(errors="replace").rstrip("\n")

    # ---- sessions ----------------------------------------------------------------------
    def loop(self, stdin: Input) -> int:
        """Read commands from stdin (a pipe: no prompt, no echo; a terminal: prompt and line editing)
        and run them until ``exit`` or EOF."""
        pending = ""
        self.interactive = self.terminal is not None
        while True:
            if self.terminal is not None:
                self.terminal.busy = False
                line = self.terminal.readline(self.prompt() if not pending else b"> ")
                self.terminal.busy = True
                if line == b"\x03":
                    pending = ""
                    self.status = 130
                    continue
            else:
                line = stdin.readline()
            if not line:
                if self.terminal is not None and self.bash:
                    self.io.out(b"exit\n")
                elif self.terminal is not None:
                    self.io.out(b"\n")
                return self.status
            text = pending + line.decode(errors="replace")
            try:
                tree = syntax.parse(text)
            except syntax.ShellSyntaxError as err:
                if "end of file" in str(err) or "unterminated" in str(err):
                    pending = text
                    continue
                self.io.err(f"{self.label}: {err}\n".encode())
                pending = ""
                self.status = 2
                continue
            pending = ""
            try:
                self.run_list(tree, self.io)
            except Interrupted:
                self.io.out(b"\n")
                self.status = 130
            except syntax.ShellSyntaxError as err:
                self.io.err(f"{self.label}: {err}\n".encode())
                self.status = 2
            finally:
                if self.terminal is not None:
                    self.terminal.settle()



def shell_main(sh: Shell | None, view: Any, argv: list[str], io: IO, terminal: Terminal | None, store: Any) -> int:
    """``sh [-c SCRIPT [NAME ARGS...]] [FILE]`` and interactive/pipe sessions."""
    name = argv[0]
    args = argv[1:]
    while args and args[0] in ("-i", "-l", "--login", "-e", "-x", "-il", "-li", "--norc", "--noprofile"):
        args = args[1:]
    child = Shell(view, io, name, terminal, store=store)
    if sh is not None:
        child.vars = {k: v for k, v in sh.vars.items() if k in sh.exported}
        child.exported = set(sh.exported)
        child.cwd = sh.cwd
    try:
        if args and args[0].startswith("-") and "c" in args[0]:
            if len(args) < 2:
                io.err(f"{child.label}: -c: option requires an argument\n".encode())
                return 2
            child.name = args[2] if len(args) > 2 else name
            child.args = args[3:]
            return child.run_text(args[1], io)
        if args:
            path = child.path(args[0])
            content = view.files.get(path)
            if content is None:
                io.err(f"{child.label}: can't open '{args[0]}': No such file or directory\n".encode()
                       if not child.bash else f"bash: {args[0]}: No such file or directory\n".encode())
                return 2 if not child.bash else 127
            child.args = args[1:]
            return child.run_text(content.decode(errors="replace"), io)
        return child.loop(io.stdin)
    except ShellExit as e:
        return e.code
    except Interrupted:
        return 130
    except syntax.ShellSyntaxError as err:
        io.err(f"{child.label}: {err}\n".encode())
        return 2


def run(view: Any, argv: list[str], stdin: Any, stdout: Write, stderr: Write, tty: bool = False, store: Any = None) -> int:
    """Run ``argv`` in the container ``view`` describes, as ``kubectl exec`` would: blocking, the
    exit code returned, output through ``stdout``/``stderr``; never raises."""
    from . import commands
    try:
        terminal = None
        if tty:
            stdout = crlf(stdout)
            stderr = crlf(stderr)
            terminal = Terminal(stdin, stdout)
            inp: Input = terminal
        else:
            inp = Input(stdin)
        io = IO(inp, stdout, stderr)
        argv = [a for a in argv]
        if not argv:
            stderr(b"kubesim: no command given\n")
            return 126
        base = Shell(view, io, "sh", terminal, store=store, process=False)
        base.exported = set(view.env)
        try:
            return commands.call(base, argv, io, top=True)
        except ShellExit as e:
            return e.code
        except Interrupted:
            return 130
    except Exception as exc:  # never raise into the exec transport
        try:
            stderr(f"kubesim: the emulated shell failed ({type(exc).__name__}: {exc})\n".encode())
        except Exception:
            pass
        return 1


__all__ = ["run", "Shell", "IO", "ShellExit"]
