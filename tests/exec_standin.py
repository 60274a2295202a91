"""A stand-in for the container userland while it is written alongside (tests only)."""
from __future__ import annotations

import shlex
import sys
import types


class View:
    def __init__(self, pod, container):
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOSTNAME": pod["metadata"]["name"]}
        self.hostname = pod["metadata"]["name"]


def container_view(store, pod, container, now):
    return View(pod, container)


def _line(view, words, out, err):
    if not words:
        return 0
    cmd = words[0]
    if cmd == "env":
        out("".join(f"{k}={v}\n" for k, v in view.env.items()).encode())
        return 0
    if cmd == "false":
        return 1
    if cmd == "true":
        return 0
    if cmd == "exit":
        return ("exit", int(words[1]) if len(words) > 1 else 0)
    if cmd == "echo":
        to_err = words[-1] == ">&2"
        text = " ".join(words[1:-1] if to_err else words[1:]) + "\n"
        (err if to_err else out)(text.encode())
        return 0
    err(f"kubesim: `{cmd}` is not emulated\n".encode())
    return 127


def run(view, argv, stdin, stdout, stderr, tty=False, store=None):
    if argv[:1] in (["sh"], ["/bin/sh"]) and len(argv) >= 3 and argv[1] == "-c":
        code = 0
        for part in argv[2].split(";"):
            code = _line(view, shlex.split(part), stdout, stderr)
            if isinstance(code, tuple):
                return code[1]
        return code
    if argv[:1] in (["sh"], ["/bin/sh"]):
        buf, code = b"", 0
        while True:
            data = stdin.read(1024) if stdin is not None else b""
            if not data:
                return code
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                code = _line(view, shlex.split(line.decode()), stdout, stderr)
                if isinstance(code, tuple):
                    return code[1]
    if argv[:1] == ["cat"]:
        while True:
            data = stdin.read(1024) if stdin is not None else b""
            if not data:
                return 0
            stdout(data)
    code = _line(view, argv, stdout, stderr)
    return code[1] if isinstance(code, tuple) else code


def install() -> None:
    module = types.ModuleType("labkit.kubesim.userland")
    module.container_view = container_view
    module.run = run
    sys.modules["labkit.kubesim.userland"] = module
    import labkit.kubesim
    labkit.kubesim.userland = module
