"""What a container's process does over time, from its image and ``command``/``args``.

Why: learners write pods such as ``busybox -- sh -c "echo hi; sleep 30; exit 1"``, Jobs that
print and exit, and the liveness example of kubernetes.io (``touch /tmp/healthy; sleep 30;
rm -f /tmp/healthy; sleep 600`` with an exec probe ``cat /tmp/healthy``). The kubelet needs to
know when such a process exits and with which code, what it prints (``kubectl logs``) and which
files and ports exist at a given second (probes). This module reads the common shell idioms
(``echo``, ``sleep``, ``touch``, ``rm``, ``exit``, ``true``/``false``, ``date``, ``while true``
loops, ``&&`` and ``;``) into such a timeline; anything else is taken to be a server that runs
until stopped. It never runs anything.

A loop that calls ``wget`` or ``curl`` (kubernetes.io's HPA load generator, ``while sleep 0.01; do
wget -q -O- http://php-apache; done``; ``while true; do curl -s URL; sleep 1; done``) is a *client
loop*: its process runs until stopped, and what it does over time is the traffic engine's
(``controllers/traffic.py``: the loop's body run through the container's shell, its sleeps as
think time, its output to the container's log); here it is only recognised (``Program.client``).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from .images import ImageInfo

SHELLS = {"sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash", "/usr/bin/env"}
SERVERS = ("nginx", "httpd", "apache2", "gunicorn", "flask", "uvicorn", "redis-server", "postgres", "mysqld",
           "node", "java", "/agnhost", "agnhost", "/hello-app", "hello-app", "php-fpm", "caddy")
# one-shot commands a pod may run as its whole process (`kubectl run test --image=busybox:1.28
# --restart=Never -- nslookup kubernetes.default`): they exit at once; what they print is what the
# container's shell (kubesim.userland) answers when the container starts
ONESHOT = {"nslookup", "dig", "getent", "host", "wget", "curl", "cat", "ls", "id", "whoami", "uname", "printenv", "env"}
PI = "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798"


@dataclass
class Program:
    """The timeline of one container process, in seconds since it started."""

    runs_for: float | None = None          # None: until stopped
    exit_code: int = 0
    logs: list[tuple[float, str]] = field(default_factory=list)
    repeat: tuple[float, list[str]] | None = None   # (period, lines) of a `while true` loop, from repeat_start
    repeat_start: float = 0.0
    files: list[tuple[float, str, bool]] = field(default_factory=list)
    serves: dict[int, tuple[str, ...]] = field(default_factory=dict)
    handles_sigterm: bool = True           # PID 1 shells ignore SIGTERM: deletion waits for the grace period
    oneshot: tuple[str, ...] = ()          # a one-shot command (ONESHOT): its output is the shell's, at start
    client: str | None = None              # a client loop's whole script (the traffic engine runs its loop)
    client_start: float = 0.0              # when the loop starts (after the statements before it)

    def file_exists(self, path: str, at: float) -> bool:
        present = False
        for t, p, state in self.files:
            if t <= at and p == path:
                present = state
        return present

    def lines(self, until: float) -> list[str]:
        out = [line for t, line in self.logs if t <= until]
        if self.repeat is not None and until >= self.repeat_start:
            period, body = self.repeat
            count = int((until - self.repeat_start) / period) + 1 if period > 0 else 1
            for _ in range(min(count, 500)):
                out.extend(body)
        return out


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def _statements(script: str) -> list[str]:
    """Split a shell script on newlines, ``;`` and ``&&`` outside quotes (good enough for manifests)."""
    out, buf, quote = [], "", ""
    i = 0
    while i < len(script):
        ch = script[i]
        if quote:
            buf += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf += ch
        elif ch in ";\n" or script.startswith("&&", i):
            out.append(buf.strip())
            buf = ""
            if script.startswith("&&", i):
                i += 1
        else:
            buf += ch
        i += 1
    out.append(buf.strip())
    return [s for s in out if s]


def _sleep(arg: str) -> float | None:
    if arg in ("infinity", "inf"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", arg)
    if not m:
        return 1.0
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _echo(words: list[str], env: dict[str, str]) -> str:
    text = " ".join(w for w in words[1:] if w not in ("-n", "-e"))
    for key, value in env.items():
        text = text.replace("${" + key + "}", value).replace("$" + key, value)
    return text


def simulate(image: ImageInfo, command: list[str] | None, args: list[str] | None,
             env: dict[str, str] | None = None, stdin: bool = False) -> Program:
    """The program a container runs: ``command`` replaces the entrypoint, ``args`` the CMD.

    A shell with no script (the image's default ``sh``, or ``-- sh``) reads its commands from
    stdin: without ``stdin: true`` it finds EOF and exits at once; with it (``kubectl run -i
    --tty``) it waits for the learner, until the attached session ends (``Kubelet.process_ended``).
    """
    env = dict(env or {})
    argv = list(command or []) + list(args or [])
    interactive = not argv and image.runs == "shell" or (
        bool(argv) and argv[0] in SHELLS and argv[0] != "/usr/bin/env" and all(a.startswith("-") and "c" not in a for a in argv[1:]))
    if interactive:
        if stdin:
            return Program(runs_for=None, handles_sigterm=False)
        code = image.exit_code if not argv else 0
        return Program(runs_for=0.05, exit_code=code, handles_sigterm=False,
                       logs=[(0.0, line) for line in image.logs] if not argv else [])
    if not argv:  # the image's own process; `ignoresSigterm` (images.yaml): PID 1 without a SIGTERM handler
        return Program(runs_for=None, logs=[(0.0, line) for line in image.logs], serves=dict(image.serves),
                       handles_sigterm=not image.entry.get("ignoresSigterm", False))
    if argv[0].rsplit("/", 1)[-1] in ONESHOT:
        return Program(runs_for=0.05, handles_sigterm=False, oneshot=tuple(argv))
    if argv[0] in SHELLS and len(argv) >= 3 and argv[1] in ("-c", "-ec", "-xc", "-lc"):
        return _script(argv[2], image, env)
    if argv[0] == "/usr/bin/env" and len(argv) > 1:
        argv = argv[1:]
    return _script(" ".join(shlex.quote(a) for a in argv), image, env, single=True)


_CLIENTS = re.compile(r"(?:^|[\s;|&(`]|do\s)(?:/usr/bin/|/bin/)?(wget|curl)\s")


def _calls_server(statements: list[str]) -> bool:
    """Whether a loop (its statements up to its ``done``) calls ``wget`` or ``curl``: a client loop."""
    depth = 0
    for stmt in statements:
        if _CLIENTS.search(" " + stmt + " "):
            return True
        first = stmt.split(None, 1)[0] if stmt.split() else ""
        if first in ("while", "until", "for"):
            depth += 1
        elif first == "done":
            depth -= 1
            if depth <= 0:
                return False
    return False


def _script(script: str, image: ImageInfo, env: dict[str, str], single: bool = False) -> Program:
    prog = Program(handles_sigterm=False)
    t = 0.0
    status = 0
    statements = _statements(script)
    i = 0
    while i < len(statements):
        words = _words(statements[i])
        i += 1
        if not words:
            continue
        cmd = words[0].rsplit("/", 1)[-1]
        if cmd in ("while", "until") and not single and _calls_server(statements[i - 1:]):
            prog.client, prog.client_start, prog.runs_for = script, t, None
            return prog
        if cmd in ("while", "until") and words[1:2] in (["true"], [":"], ["[", "1"]):
            body: list[str] = []
            period = 1.0
            while i < len(statements):
                stmt = statements[i]
                i += 1
                inner = _words(stmt.removeprefix("do ").strip())
                if stmt.startswith("done"):
                    break
                if inner and inner[0] == "echo":
                    body.append(_echo(inner, env))
                elif inner and inner[0] == "date":
                    body.append("{date}")
                elif inner and inner[0] == "sleep" and len(inner) > 1:
                    period = _sleep(inner[1]) or 3600.0
            prog.repeat = (period, body)
            prog.repeat_start = t
            prog.runs_for = None
            return prog
        if cmd == "echo":
            prog.logs.append((t, _echo(words, env)))
            status = 0
        elif cmd == "printf":
            prog.logs.append((t, _echo(words, env).replace("\\n", "")))
        elif cmd == "date":
            prog.logs.append((t, "{date}"))
        elif cmd == "sleep":
            secs = _sleep(words[1] if len(words) > 1 else "1")
            if secs is None:
                prog.runs_for = None
                return prog
            t += secs
        elif cmd == "touch" or (cmd == "mkdir"):
            for path in words[1:]:
                if not path.startswith("-"):
                    prog.files.append((t, path, True))
        elif cmd == "rm":
            for path in words[1:]:
                if not path.startswith("-"):
                    prog.files.append((t, path, False))
        elif cmd == "exit":
            code = int(words[1]) if len(words) > 1 and words[1].lstrip("-").isdigit() else status
            prog.runs_for, prog.exit_code = t + 0.05, code
            return prog
        elif cmd in ("true", ":", "cat", "ls", "cd", "export", "set", "test", "[", "env", "printenv", "hostname", "whoami"):
            if cmd in ("env", "printenv"):
                prog.logs.extend((t, f"{k}={v}") for k, v in sorted(env.items()))
            elif cmd == "hostname":
                prog.logs.append((t, env.get("HOSTNAME", "")))
            status = 0
        elif cmd == "false":
            status = 1
        elif cmd == "perl" and any("bpi" in w for w in words):
            digits = next((int(m.group(1)) for w in words for m in [re.search(r"bpi\((\d+)\)", w)] if m), 2000)
            t += min(2.0 + digits / 400, 30.0)
            prog.logs.append((t, (PI * (digits // len(PI) + 1))[:digits + 1]))
            status = 0
        elif cmd in ("python", "python3") and "http.server" in words:
            port = next((int(w) for w in words if w.isdigit()), 8000)
            prog.serves = {port: ("/",)}
            prog.logs.append((t, f"Serving HTTP on 0.0.0.0 port {port} (http://0.0.0.0:{port}/) ..."))
            prog.runs_for, prog.handles_sigterm = None, True
            return prog
        elif cmd in ("tail",) and "-f" in words:
            prog.runs_for = None
            return prog
        else:
            # a program we do not model: a server (or long-running worker) that runs until stopped
            prog.runs_for = None
            prog.handles_sigterm = True
            prog.serves = dict(image.serves)
            if cmd in SERVERS or any(cmd.startswith(s) for s in SERVERS):
                prog.logs.extend((t, line) for line in image.logs)
            return prog
    prog.runs_for, prog.exit_code = t + 0.05, status
    return prog
