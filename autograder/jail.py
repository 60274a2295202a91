"""Start one command (a student's kernel) locked away from the grader.

This file is run as a script (`python -I -S jail.py ... -- CMD...`), not imported, so
it uses nothing but the standard library and starts in a few milliseconds. The grader
puts it in front of the kernel's command line. Why a separate program and not
`preexec_fn`: the grading worker has threads (ZeroMQ), and `preexec_fn` is not safe
in a threaded process; a fresh small process is.

What it does, in order, as far as the machine allows:

1. new namespaces: mount (to build the kernel its own file system), network (no
   network at all; loopback only), PID (the kernel is PID 1 of its own tree, so when it
   dies every process it started dies with it: nothing outlives a submission). As root
   this needs nothing more; as another user it needs unprivileged user namespaces, and
   without them the jail says so on stderr and carries on with limits only.
2. a new root from an allow-list: an empty tmpfs holding only the `--expose` paths
   (the interpreter, its libraries, the packages the kernel imports; read-only), the
   `--expose-rw` paths (the slot's `work/` and `kernel/`), a private size-capped `/tmp`
   and `/dev/shm` (`--tmp-mb`), a minimal `/dev` (null, zero, full, random, urandom),
   a fresh `/proc`, and a generated `/etc` (passwd and group naming only the kernel's
   uid, hosts; nothing of the host's). The kernel pivots into it and the host's root
   is detached: no other host path is there to read or write, whatever its permissions.
   (`--host-root` skips this step: the trusted evaluator, `evaluators.py`, keeps the
   host's files and gets only the namespaces and limits.)
   Why an allow-list: a list of paths to hide misses every copy of the course it does
   not name;
3. resource limits: address space, processes, file size, CPU seconds, core dumps;
4. as root, drops to the unprivileged `--uid`/`--gid` (no supplementary groups); in a
   user namespace, drops every capability;
5. closes every inherited file descriptor, then runs the command.

The jail process itself stays outside the PID namespace and waits: it forwards
interrupts (SIGINT) to the kernel and exits with the kernel's status, so the kernel
manager that started it sees the kernel's life and death.

With `--zygote SOCKET`, this process does none of that itself: it hands its command
line, environment, working directory and standard streams to the grader's kernel
fork server (`zygote.py`), which runs the same steps in a forked copy of a Python that
has ipykernel imported already, so no kernel pays for importing it. This process then
only relays signals and exits with the kernel's status, as above.
"""

import ctypes
import errno
import fcntl
import json
import os
import platform
import resource
import signal
import socket
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
ST_RELATIME = 4096  # statvfs's flag for relatime (the other ST_ flags equal their MS_ ones)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
# pivot_root has no libc wrapper: its system call number, per architecture.
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
# Where the new root is assembled (any directory will do: it is only covered in our own
# mount namespace; paths under it stay reachable through descriptors opened first).
STAGING = ("/tmp", "/mnt", "/media", "/srv", "/var/tmp")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Signals the waiting jail passes on to the kernel.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _fail(what: str, err: int) -> OSError:
    return OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: None if s is None else str(s).encode()  # noqa: E731
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise _fail(f"mount {source} on {target}", ctypes.get_errno())


def _umount(target, flags=MNT_DETACH):
    if _libc.umount2(str(target).encode(), flags) != 0:
        raise _fail(f"umount {target}", ctypes.get_errno())


def _unshare(flags):
    if _libc.unshare(flags) != 0:
        raise _fail("unshare", ctypes.get_errno())


def _warn(message):
    os.write(2, f"[autograder jail] {message}\n".encode())


def _parse(argv):
    opts = {"expose": [], "expose_rw": [], "uid": None, "gid": None, "rlimit": [], "tmp_mb": 64,
            "home": None, "network": True, "log": None, "strict": False, "zygote": None,
            "host_root": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return opts, argv[i + 1:]
        if arg in ("--expose", "--expose-rw", "--uid", "--gid", "--rlimit", "--log", "--zygote", "--tmp-mb", "--home"):
            value = argv[i + 1]
            key = arg[2:].replace("-", "_")
            if key in ("expose", "expose_rw", "rlimit"):
                opts[key].append(value)
            elif key in ("uid", "gid", "tmp_mb"):
                opts[key] = int(value)
            else:
                opts[key] = value
            i += 2
        elif arg == "--no-network":
            opts["network"] = False
            i += 1
        elif arg == "--host-root":  # the trusted evaluator: namespaces and limits, the host's files
            opts["host_root"] = True
            i += 1
        elif arg == "--strict":
            opts["strict"] = True
            i += 1
        else:
            raise SystemExit(f"jail: unknown option {arg!r}; usage: jail.py [options] -- command...")
    raise SystemExit("jail: no command given after '--'")


def _loopback_up():
    """Bring up `lo` in a fresh network namespace so 127.0.0.1 works (the course's emulator)."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _without_namespaces(opts, message):
    """No namespaces to be had: stop (`--strict`), or say why and go on with limits only."""
    if opts["strict"]:
        raise SystemExit(f"jail: {message}")
    _warn(message)
    return False


def _namespaces(opts):
    """Enter new namespaces. Returns True when the mount namespace is ours to change."""
    flags = CLONE_NEWNS | CLONE_NEWPID | (0 if opts["network"] else CLONE_NEWNET)
    if os.geteuid() == 0:
        try:
            _unshare(flags)
            return True
        except OSError as error:  # a container without CAP_SYS_ADMIN, say
            return _without_namespaces(opts, (
                f"cannot give this kernel its own namespaces ({error}); it still runs as its own "
                "unprivileged uid with limits, but can see the network and read files others may read. "
                "Grant CAP_SYS_ADMIN to the grader (see autograder/k8s/job.yaml) for full isolation."))
    uid, gid = os.geteuid(), os.getegid()
    try:
        _unshare(flags | CLONE_NEWUSER)
    except OSError as error:
        return _without_namespaces(opts, (
            f"cannot isolate this kernel ({error}): unprivileged user namespaces are off. "
            "It runs with resource limits only and can read and write whatever this user can. "
            "Grade as root or with --isolation docker."))
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return True


def _open_sources(opts):
    """What the new root will hold, as descriptors opened while the host's paths are still
    in view: [(fd, path, writable)] and [(path, symlink target)] for top-level links
    such as /lib -> usr/lib."""
    sources, links, seen = [], [], []
    for key, writable in (("expose", False), ("expose_rw", True)):
        for path in sorted(set(opts[key]), key=len):
            path = os.path.normpath(path)
            if os.path.islink(path):
                links.append((path, os.readlink(path)))
                continue
            if not os.path.exists(path):
                continue
            if not writable and any(path.startswith(parent.rstrip("/") + "/") for parent in seen):
                continue  # already inside an exposed directory
            sources.append((os.open(path, os.O_PATH | os.O_CLOEXEC), path, writable))
            if not writable:
                seen.append(path)
    devices = [(os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC), f"/dev/{name}")
               for name in DEVICES if os.path.exists(f"/dev/{name}")]
    return sources, links, devices


def _mount_flags(fd):
    """The flags a read-only remount must keep (a user namespace may not drop them)."""
    flags = os.statvfs(f"/proc/self/fd/{fd}").f_flag
    kept = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    return kept | (MS_RELATIME if flags & ST_RELATIME else 0)


def _bind(fd, target, writable, devices=False):
    if os.path.isdir(f"/proc/self/fd/{fd}"):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))
    _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    flags = _mount_flags(fd) | MS_NOSUID | (0 if devices else MS_NODEV)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | flags | (0 if writable else MS_RDONLY))


def _etc(root, opts):
    """A generated /etc: the kernel's own user and group, localhost; nothing of the host's."""
    uid = opts["uid"] if opts["uid"] is not None and os.geteuid() == 0 else os.getuid()
    gid = (opts["gid"] if opts["gid"] is not None else uid) if os.geteuid() == 0 and opts["uid"] is not None \
        else os.getgid()
    home = opts["home"] or "/nonexistent"
    os.makedirs(f"{root}/etc", mode=0o755, exist_ok=True)
    files = {
        "passwd": f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nlearner:x:{uid}:{gid}:learner:{home}:/bin/sh\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": f"root:x:0:\nlearner:x:{gid}:\nnogroup:x:65534:\n",
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }
    for name, text in files.items():
        if os.path.exists(f"{root}/etc/{name}"):
            continue  # exposed by the grader (ld.so.cache, localtime...)
        with open(f"{root}/etc/{name}", "w") as handle:
            handle.write(text)


def _scratch(target, size_mb):
    os.makedirs(target, mode=0o755, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={int(size_mb)}m")


def _pivot(root):
    """Make `root` the root of this mount namespace and detach the host's."""
    number = SYS_PIVOT_ROOT.get(platform.machine())
    os.chdir(root)
    if number is not None and _libc.syscall(number, b".", b".") == 0:
        _umount(".")  # the old root, stacked on the new one by pivot_root(".", ".")
    else:  # an architecture we have no number for: move the new root over / instead
        _mount(".", "/", None, MS_MOVE)
        os.chroot(".")
    os.chdir("/")


def _new_root(opts):
    """Step 2: the kernel's file system, from the allow-list only."""
    cwd = os.getcwd()
    mask = os.umask(0o022)
    _unshare(CLONE_NEWNS)  # our own copy: the waiting jail keeps the host's view
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    sources, links, devices = _open_sources(opts)
    root = next((path for path in STAGING if os.path.isdir(path) and not os.path.islink(path)), None)
    if root is None:
        raise OSError(errno.ENOENT, f"none of {', '.join(STAGING)} is there to build the kernel's root in")
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=8m")
    # The private /tmp first: a slot under the host's /tmp is bound inside it, not covered by it.
    _scratch(f"{root}/tmp", opts["tmp_mb"])
    for path, target in links:
        os.makedirs(os.path.dirname(root + path), mode=0o755, exist_ok=True)
        os.symlink(target, root + path)
    for fd, path, writable in sources:
        _bind(fd, root + path, writable)
        os.close(fd)
    os.makedirs(f"{root}/dev", mode=0o755)
    _mount("tmpfs", f"{root}/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for fd, path in devices:
        _bind(fd, root + path, True, devices=True)
        os.close(fd)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    _scratch(f"{root}/dev/shm", opts["tmp_mb"])
    _etc(root, opts)
    os.makedirs(f"{root}/proc", mode=0o555)
    _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=8m")
    _pivot(root)
    os.umask(mask)
    try:
        os.chdir(cwd)  # the same path, now the bind mount in the new root
    except OSError:
        os.chdir("/")


def _drop_capabilities():
    """In a user namespace the kernel would keep every capability there (it is never
    exec'd in the fork-server path): drop them all, and never gain any back."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if _libc.capset(header, data) != 0:
        raise _fail("capset", ctypes.get_errno())


def _limits(opts):
    names = {"as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC, "fsize": resource.RLIMIT_FSIZE,
             "cpu": resource.RLIMIT_CPU, "core": resource.RLIMIT_CORE, "nofile": resource.RLIMIT_NOFILE}
    for spec in opts["rlimit"]:
        name, _, value = spec.partition("=")
        limit = int(value)
        resource.setrlimit(names[name], (limit, limit))


def _child(opts, command, isolated, log, start):
    """Runs as PID 1 of the new PID namespace (when there is one): finish the jail, start."""
    if isolated:
        try:
            if not opts["host_root"]:
                _new_root(opts)
            if not opts["network"]:
                _loopback_up()
        except Exception as error:  # never return from here: this is the forked child
            os.write(2, f"jail: could not isolate the kernel: {error}\n".encode())
            os._exit(70)
    _limits(opts)
    if os.geteuid() == 0 and opts["uid"] is not None:
        gid = opts["gid"] if opts["gid"] is not None else opts["uid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(opts["uid"], opts["uid"], opts["uid"])
    elif isolated and os.geteuid() != 0:
        try:
            _drop_capabilities()
        except OSError as error:
            os.write(2, f"jail: could not drop the kernel's capabilities: {error}\n".encode())
            os._exit(70)
    # Die with the jail process (the kernel manager kills that one). Set after setuid,
    # which clears it. Own session: an interrupt reaches the kernel once, via the jail.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # setuid made us undumpable (/proc/self owned by root); exec would undo that, a fork does not.
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 65536)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    start(command)


def _exec(command):
    try:
        os.execvp(command[0], command)
    except OSError as error:
        os.write(2, f"jail: cannot run {command[0]}: {error}\n".encode())
        os._exit(127)


def _open_log(opts):
    """The kernel's own stdout/stderr go to this log (opened now, while it is reachable)."""
    if opts["log"]:
        return os.open(opts["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.open(os.devnull, os.O_WRONLY)


def jail(opts, command, start=_exec, before_start=None):
    """Steps 1-6 in a forked child; returns the child's pid (this process is its reaper)."""
    log = _open_log(opts)
    isolated = _namespaces(opts)
    # Orphans of the kernel come back to us, and we reap them: no zombie outlives us.
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        if before_start is not None:
            before_start()
        _child(opts, command, isolated, log, start)
    os.close(log)
    return pid


def reap(pid):
    """Wait for the kernel, then for whatever it left behind; its exit code (0-255)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1
    code = os.waitstatus_to_exitcode(status) & 0xFF
    # The kernel is gone; so is its PID namespace. Reap what is left, then go.
    while True:
        try:
            os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    return code


def main(argv):
    opts, command = _parse(argv)
    # Die with the grading worker that started us (killed, say, by the OOM killer): the
    # kernel then dies with us, and nothing of a submission is left running.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if opts["zygote"]:
        os._exit(_through_zygote(opts["zygote"], argv))
    pid = jail(opts, command)
    # The waiting parent: pass interrupts on, and die with the kernel.
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, frame: _forward(pid, signum))
    os._exit(reap(pid))


def _without_zygote(argv):
    i = argv.index("--zygote")
    return argv[:i] + argv[i + 2:]


def _through_zygote(path, argv):
    """Ask the fork server to jail and start the kernel; relay signals; return its exit code.

    Protocol (one connection per kernel): a 4-byte length and a JSON request
    {argv, env, cwd}, with this process's fds 0, 1, 2 attached; then single bytes
    from here (a signal number to forward), and one byte back (the exit code) at the end.
    If this process dies, the connection closes and the kernel is killed.
    """
    request = json.dumps({"argv": _without_zygote(argv), "env": dict(os.environ),
                          "cwd": os.getcwd()}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        socket.send_fds(conn, [struct.pack("!I", len(request))], [0, 1, 2])
        conn.sendall(request)
    except OSError as error:
        os.write(2, f"jail: the kernel fork server at {path} did not answer: {error}\n".encode())
        return 70

    def relay(signum, frame):
        try:
            conn.send(bytes([signum]))
        except OSError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, relay)
    while True:
        try:
            answer = conn.recv(1)
            break
        except InterruptedError:
            continue
        except OSError:
            answer = b""
            break
    return answer[0] if answer else 1


def _forward(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    if signum in (signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except OSError as error:
        if error.errno in (errno.EPERM, errno.EACCES):
            sys.exit(f"jail: not permitted: {error}. Grade as root, or with --isolation docker.")
        raise
