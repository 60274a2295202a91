"""The commands that tell about the process and the machine: ``env``, ``printenv``, ``hostname``,
``id``, ``whoami``, ``uname``, ``date``, ``sleep``, ``ps``, answered from the pod spec (security
context, hostNetwork, PID 1's command) and the emulator's clock.

Why separate: they read the pod and the clock, not the files; ``env`` runs a command through the
table (:mod:`.commands`, imported when called: the table imports this module).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from .command_io import _err
from .shell import IO, Shell


def _env(sh: Shell, argv: list[str], io: IO) -> int:
    from .commands import call
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


def _hostname(sh: Shell, argv: list[str], io: IO) -> int:
    if "-i" in argv[1:] or "-I" in argv[1:]:
        io.out((sh.view.pod_ip + ("" if "-i" in argv[1:] else " ") + "\n").encode())
        return 0
    io.out((sh.view.hostname + "\n").encode())
    return 0


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


def _whoami(sh: Shell, argv: list[str], io: IO) -> int:
    uid = _uid(sh)
    name = _user(uid)
    if name.isdigit():
        _err(sh, io, f"whoami: unknown uid {uid}" if sh.view.family.busybox else f"whoami: cannot find name for user ID {uid}")
        return 1
    io.out((name + "\n").encode())
    return 0


def _uname(sh: Shell, argv: list[str], io: IO) -> int:
    kernel, release, machine = "Linux", "6.8.0-kubesim", "x86_64"
    version = "#1 SMP PREEMPT_DYNAMIC Mon Jan  5 00:00:00 UTC 2026"
    node = (sh.view.pod.get("spec") or {}).get("nodeName", "") if (sh.view.pod.get("spec") or {}).get("hostNetwork") else sh.view.hostname
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-"))
    if not flags:
        parts = [kernel]
    elif "a" in flags:
        parts = [kernel, node, release, version, machine] + ([] if sh.view.family.busybox else [machine, machine]) + ["GNU/Linux"]
    else:
        parts = [v for f, v in (("s", kernel), ("n", node), ("r", release), ("v", version), ("m", machine), ("o", "GNU/Linux")) if f in flags]
    io.out((" ".join(parts) + "\n").encode())
    return 0


def _date(sh: Shell, argv: list[str], io: IO) -> int:
    now = datetime.fromtimestamp(sh.view.clock(), timezone.utc)
    fmt = next((a[1:] for a in argv[1:] if a.startswith("+")), None)
    if fmt is not None:
        io.out((now.strftime(fmt.replace("%N", "000000000")) + "\n").encode())
    elif "-u" in argv[1:] or "-R" not in argv[1:]:
        io.out((now.strftime("%a %b %e %H:%M:%S UTC %Y") + "\n").encode())
    return 0


def _sleep(sh: Shell, argv: list[str], io: IO) -> int:
    """Waits on the simulated clock: while it follows real time, ``sleep 10`` ends when 10 simulated
    seconds have passed (1 real second at ``--speed 10``, at once when the clock is advanced past it),
    so a client loop's pace agrees with the cluster's. On a frozen clock (``realtime=False``) nothing
    would ever wake it, so it waits wall seconds, as before. In a client loop's container (its view
    carries ``think_time``, set by the traffic engine) it adds to the loop's think time and returns
    at once, in nested shells and ``$(...)`` too: the engine runs iterations, it never waits."""
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
    think = getattr(sh.view, "think_time", None)
    if think is not None:
        sh.view.think_time = think + total
        return 0
    clock = getattr(sh.store, "clock", None)
    simulated = clock is not None and getattr(clock, "realtime", False)
    if simulated:
        deadline = clock.time() + total
    else:
        deadline = time.monotonic() + total
    while True:
        if simulated:
            left = (deadline - clock.time()) / getattr(clock, "speed", 1.0)  # real seconds at today's speed
        else:
            left = deadline - time.monotonic()
        if left <= 0:
            return 0
        if sh.terminal is not None:
            if sh.terminal.interrupt.wait(min(left, 1.0)):
                sh.check()
        else:
            time.sleep(min(left, 1.0))


def _ps(sh: Shell, argv: list[str], io: IO) -> int:
    """PID 1 is the container's command; then this shell (when there is one) and ps itself."""
    pid1 = " ".join(sh.view.command())
    me = sh.name.rsplit("/", 1)[-1] if sh.name else "sh"
    rest = " ".join(argv[1:])
    ps_pid = sh.pid + 6 if sh.process else sh.pid
    if sh.view.family.busybox:
        rows = [(1, pid1)] + ([(sh.pid, me)] if sh.process else []) + [(ps_pid, ("ps " + rest).strip())]
        io.out(("PID   USER     TIME  COMMAND\n" + "".join(f"{pid:>5} root      0:00 {cmd}\n" for pid, cmd in rows)).encode())
        return 0
    if any(c in a for a in argv[1:] for c in "aex"):
        rows2 = [(1, "?", "Ss", pid1)] + ([(sh.pid, "pts/0", "Ss", me)] if sh.process else []) + [(ps_pid, "pts/0", "R+", ("ps " + rest).strip())]
        io.out(("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
                + "".join(f"root     {pid:>7}  0.0  0.0   4264  3456 {tty:<8} {st:<4} 00:00   0:00 {cmd}\n" for pid, tty, st, cmd in rows2)).encode())
        return 0
    rows3 = [(1, "?", sh.view.command()[0].rsplit("/", 1)[-1])] + ([(sh.pid, "pts/0", me)] if sh.process else []) + [(ps_pid, "pts/0", "ps")]
    io.out(("    PID TTY          TIME CMD\n" + "".join(f"{pid:>7} {tty:<8} 00:00:00 {cmd}\n" for pid, tty, cmd in rows3)).encode())
    return 0

