"""``pods/exec`` and ``pods/attach``: a command in a container, over a WebSocket, as a real cluster.

Why its own module: kubectl 1.32 (``v5.channel.k8s.io``) and the official Python client
(``v5``/``v4.channel.k8s.io``) run ``kubectl exec``, ``kubectl attach`` and ``kubectl run -it``
as a WebSocket session whose messages start with a channel byte (0 stdin, 1 stdout, 2 stderr,
3 error: the final ``Status``, 4 terminal resize; in v5, 255 closes a stream: stdin's EOF). This
module checks the request as the API server and the kubelet do (their errors come before the
upgrade, or on the error channel after it, as kubectl shows them), then runs the command through
the container userland (:mod:`.userland`: the environment and files the kubelet builds, and a
small shell) in the request's own thread, with one reader thread for the client's frames. No
process starts on the host.

The transport knows nothing of what the shell understands: it moves bytes and reports the exit
code. SPDY (``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``, older clients) is :mod:`.spdyexec`: the
same session over SPDY streams, through ``spdy.serve_remotecommand``.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

from . import errors, websocket
from .routing import Request, Response, Target

Obj = dict[str, Any]
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5 = "v5.channel.k8s.io"
# what the kubelet's WebSocket server accepts (and v5, which the API server itself serves); the
# client's first offered protocol in this list wins, "" is a client that offers none (v1 binary)
PROTOCOLS = [V5, "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
             "channel.k8s.io", "base64.channel.k8s.io", ""]
FINISH_WAIT = 5.0  # seconds the server waits for the client's close frame after the status
# kubectl 1.32's WebSocket executor starts reading frames before it has made its streams, and
# drops a frame for a stream it has not made yet ("Unknown stream id 1, discarding message" on
# stderr). Across a network the frames arrive later than that; on 127.0.0.1 they can win the race
# (about 1 run in 300), so the first frame waits this long.
STREAMS_SETTLE = 0.05


def _json(obj: Obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def success_status() -> Obj:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, argv: list[str], translated: bool) -> Obj:
    """The error channel's ``Status`` for a non-zero exit, as the kubelet words it or, for a v5
    WebSocket (``translated``), the API server's stream translator in front of it."""
    if translated:
        inner = f"command terminated with exit code {code}"
    else:
        inner = f"error executing command [{' '.join(argv)}], exit code {code}"
    return {"metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {inner}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_status(message: str) -> Obj:
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500}


SHELLS = {"sh", "bash", "ash", "dash", "zsh"}


def reads_stdin(argv: list[str]) -> bool:
    """Whether a process reads its commands from stdin: a shell with no script (``sh``, ``bash -i``)."""
    return bool(argv) and argv[0].rsplit("/", 1)[-1] in SHELLS and all(
        a.startswith("-") and "c" not in a for a in argv[1:])


class Stdin:
    """A pipe from the socket reader to the process: ``read`` blocks until data or EOF (b"")."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._eof = False
        self._cond = threading.Condition()

    def feed(self, data: bytes) -> None:
        with self._cond:
            if not self._eof:
                self._buf += data
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def read(self, n: int = -1) -> bytes:
        """What is there (at most ``n`` bytes when n > 0), waiting for some; b"" at EOF."""
        with self._cond:
            while not self._buf and not self._eof:
                self._cond.wait()
            size = len(self._buf) if n is None or n < 0 else min(n, len(self._buf))
            data = bytes(self._buf[:size])
            del self._buf[:size]
            return data

    def interrupted(self) -> bool:
        """Whether a ^C waits in the pipe (a terminal's interrupt): taken out, with what came before."""
        with self._cond:
            at = self._buf.find(b"\x03")
            if at < 0:
                return False
            del self._buf[: at + 1]
            return True

    def readline(self, limit: int = -1) -> bytes:
        with self._cond:
            while b"\n" not in self._buf and not self._eof and (limit < 0 or len(self._buf) < limit):
                self._cond.wait()
            end = self._buf.find(b"\n") + 1 or len(self._buf)
            if limit >= 0:
                end = min(end, limit)
            data = bytes(self._buf[:end])
            del self._buf[:end]
            return data


class Channels:
    """The ``channel.k8s.io`` framing of one negotiated protocol over a :class:`~.websocket.WebSocket`."""

    def __init__(self, sock: websocket.WebSocket, protocol: str):
        self.sock, self.protocol = sock, protocol
        self.base64 = "base64" in protocol
        self.json_status = protocol.startswith(("v4.", "v5."))

    def write(self, channel: int, data: bytes) -> bool:
        if self.base64:
            return self.sock.send(str(channel).encode() + base64.b64encode(data), binary=False)
        return self.sock.send(bytes([channel]) + data)

    def parse(self, payload: bytes) -> tuple[int, bytes] | None:
        if not payload:
            return None
        if self.base64:
            try:
                return int(chr(payload[0])), base64.b64decode(payload[1:])
            except ValueError:
                return None
        return payload[0], payload[1:]

    def status(self, status: Obj) -> None:
        """The final word on the error channel: a JSON Status (v4, v5) or, before v4, the failure's
        message as text (nothing on success)."""
        if self.json_status:
            self.write(ERROR, _json(status))
        elif status.get("status") != "Success":
            self.write(ERROR, str(status.get("message", "")).encode())


@dataclass(eq=False)
class Session:
    """One exec or attach session over a WebSocket: the socket, the process's stdin and the
    reader thread. (:mod:`.spdyexec` gives the same face over SPDY.)"""

    channels: Channels
    stdin: Stdin | None
    resizes: list[Obj] = field(default_factory=list)
    reader: threading.Thread | None = None
    gone: bool = False  # the client closed or the connection broke
    key: tuple[str, str, str] | None = None  # attach to a main process: (namespace, pod, container)

    @property
    def translated(self) -> bool:
        """v5 WebSockets end in the API server (which speaks SPDY to the kubelet): its wording."""
        return self.channels.protocol == V5

    def start(self) -> None:
        self.reader = threading.Thread(target=self._read, name="kubesim-exec-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            while True:
                msg = self.channels.sock.recv()
                if msg is None:
                    break
                parsed = self.channels.parse(msg[1])
                if parsed is None:
                    continue
                channel, data = parsed
                if channel == STDIN and self.stdin is not None:
                    self.stdin.feed(data)
                elif channel == RESIZE:
                    try:
                        self.resizes.append(json.loads(data or b"{}"))
                    except ValueError:
                        pass
                elif channel == CLOSE and self.channels.protocol == V5 and data[:1] == bytes([STDIN]):
                    if self.stdin is not None:
                        self.stdin.close()
        finally:
            self.gone = True
            if self.stdin is not None:
                self.stdin.close()

    def out(self, channel: int) -> Callable[[bytes], None]:
        def write(data: bytes) -> None:
            if data and not self.gone:
                self.channels.write(channel, bytes(data))
        return write

    def finish(self, status: Obj) -> None:
        """Report the status, close, and wait (a little) for the client's close before the
        connection goes: closing at once could cut output still on its way."""
        if not self.gone:
            self.channels.status(status)
        self.channels.sock.close(1000)
        if self.stdin is not None:
            self.stdin.close()
        if self.reader is not None:
            self.reader.join(FINISH_WAIT)
            if self.reader.is_alive():
                self.channels.sock.abort()
                self.reader.join(1.0)

    def abort(self) -> None:
        """The server stops: say so (1001, going away), end the reader and the process's stdin."""
        self.channels.sock.close(1001, "the emulator is stopping")
        self.gone = True
        if self.stdin is not None:
            self.stdin.close()
        self.channels.sock.abort()


@dataclass
class Streams:
    """What the request asks for: the query's stdin, stdout, stderr, tty and container."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    container: str

    @classmethod
    def of(cls, req: Request, container: str) -> "Streams":
        tty = req.flag("tty")
        # with a terminal, stderr is the terminal too (the kubelet drops a separate stderr stream)
        return cls(req.flag("stdin"), req.flag("stdout"), req.flag("stderr") and not tty, tty, container)


class RemoteCommand:
    """The ``exec`` and ``attach`` subresources for :class:`~.api.Api`."""

    manager: Any = None  # the controller manager, set by ``controllers.all.build`` (the kubelet)

    def _sessions(self) -> set:
        """The live sessions, ended by the HTTP layer when the server stops."""
        return self.__dict__.setdefault("sessions", set())

    # ---- the checks of the API server and the kubelet -----------------------------------
    def _stream_target(self, req: Request, t: Target) -> tuple[Obj, str]:
        """The pod and container, or the API server's error (before any upgrade)."""
        pod = self.store.get(t.res, t.namespace or "", t.name or "")
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in spec.get("containers") or []]
        inits = [c.get("name") for c in spec.get("initContainers") or []]
        ephemeral = [c.get("name") for c in spec.get("ephemeralContainers") or []]
        container = req.query.get("container", "")
        if not container:
            if len(names) == 1:
                container = names[0]
            else:
                message = f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(names)}]"
                if inits:
                    message += f" or one of the init containers: [{' '.join(inits)}]"
                raise errors.bad_request(message)
        elif container not in names + inits + ephemeral:
            raise errors.bad_request(f"container {container} is not valid for pod {t.name}")
        if not spec.get("nodeName"):
            raise errors.bad_request(f"pod {t.name} does not have a host assigned")
        return pod, container

    @staticmethod
    def _running(pod: Obj, container: str) -> bool:
        status = pod.get("status") or {}
        for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []) + \
                (status.get("ephemeralContainerStatuses") or []):
            if s.get("name") == container:
                return bool((s.get("state") or {}).get("running"))
        return False

    def _upgrade(self, req: Request, streams: Streams, not_running: str | None,
                 body: Callable[[Any], Obj]) -> Response:
        """Switch to the stream the client asks for and run ``body`` in it; ``body`` returns the
        final Status. ``not_running``: the kubelet's refusal (the container is not running)."""
        if not (streams.stdin or streams.stdout or streams.stderr):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        headers = req.headers
        if "spdy/" in headers.get("upgrade", "").lower():
            if not_running is not None:  # the kubelet refuses the upgrade with a plain-text error
                return Response(500, not_running.encode(), "text/plain; charset=utf-8")
            from . import spdy  # the framing and the stream set are port-forward's too
            return spdy.serve_remotecommand(self, req, streams, body)
        if not websocket.is_upgrade(headers):
            raise errors.bad_request("Upgrade request required")
        shake = websocket.handshake_headers(headers, PROTOCOLS)
        if shake is None:
            offered = ", ".join(websocket.offered_protocols(headers)) or "none"
            raise errors.bad_request(f"unable to upgrade: no supported stream protocol among the offered ({offered})")
        reply, protocol = shake
        if not_running is not None and protocol != V5:
            # the kubelet answers the upgrade itself, with a plain-text error
            return Response(500, not_running.encode(), "text/plain; charset=utf-8")
        api = self

        def run(rfile: BinaryIO, wfile: BinaryIO) -> None:
            sock = websocket.WebSocket(rfile, wfile)
            channels = Channels(sock, protocol)
            session = Session(channels, Stdin() if streams.stdin else None)
            # the lowest writable channel gets an empty message: the streams are set up
            time.sleep(STREAMS_SETTLE)
            channels.write(STDOUT if streams.stdout else STDERR if streams.stderr else ERROR, b"")
            session.start()
            if not_running is not None:  # v5: the API server's translator reports the kubelet's refusal
                session.finish(internal_status(f"unable to upgrade connection: {not_running}"))
                return
            api._serve(session, body)
        return Response(101, headers=reply, upgrade=run)

    def _serve(self, session: Any, body: Callable[[Any], Obj]) -> None:
        """Run the session's process (in this thread) and report how it ended."""
        sessions = self._sessions()
        sessions.add(session)
        try:
            try:
                status = body(session)
            except Exception as exc:  # a bug in the userland must not hang the client
                status = internal_status(f"error executing command in container: {type(exc).__name__}: {exc}")
            session.finish(status)
        finally:
            sessions.discard(session)

    # ---- exec ---------------------------------------------------------------------------
    def exec_command(self, req: Request, t: Target) -> Response:
        pod, container = self._stream_target(req, t)
        argv = req.values("command")
        if not argv:
            raise errors.bad_request("you must specify at least 1 command")
        streams = Streams.of(req, container)
        not_running = None if self._running(pod, container) else f'container not found ("{container}")'
        namespace, name = t.namespace or "", t.name or ""
        api = self

        def body(session: Any) -> Obj:
            code = api._run(namespace, name, container, argv, session, streams)
            translated = getattr(session, "translated", False)
            return success_status() if code == 0 else exit_status(code, argv, translated)
        return self._upgrade(req, streams, not_running, body)

    def _run(self, namespace: str, name: str, container: str, argv: list[str], session: Any,
             streams: Streams) -> int:
        """Run ``argv`` in the container's userland (blocking), with the session's streams."""
        from . import userland
        pod = self.store.get(self._pods(), namespace, name)
        view = userland.container_view(self.store, pod, container, self.store.clock.time())
        null = lambda data: None  # noqa: E731 - a stream the client did not ask for
        stdout = session.out(STDOUT) if streams.stdout else null
        stderr = session.out(STDOUT if streams.tty else STDERR) if (streams.stderr or streams.tty) else null
        return int(userland.run(view, argv, session.stdin, stdout, stderr, tty=streams.tty, store=self.store))

    def _pods(self):
        from . import resources
        return resources.by_kind("v1", "Pod")

    # ---- attach -------------------------------------------------------------------------
    def attach(self, req: Request, t: Target) -> Response:
        pod, container = self._stream_target(req, t)
        streams = Streams.of(req, container)
        not_running = None if self._running(pod, container) else f'container not found ("{container}")'
        namespace, name = t.namespace or "", t.name or ""
        spec = next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == container), {})
        api = self
        if spec.get("stdin"):
            def body(session: Any) -> Obj:
                return api._attach_main(namespace, name, container, spec, session, streams)
        else:
            def body(session: Any) -> Obj:
                api._attach_output(namespace, name, container, session, streams, replay=False)
                return success_status()
        return self._upgrade(req, streams, not_running, body)

    def _attach_main(self, namespace: str, name: str, container: str, spec: Obj, session: Any,
                     streams: Streams) -> Obj:
        """A container with ``stdin: true`` (``kubectl run -i``). When its process is a shell that
        reads its commands from stdin (``-- sh``, the image's default shell), the attached session
        is that process: it runs in the userland, and its end is the container's end, which the
        kubelet is told. Any other process (``-- wget -qO- http://web``, ``-- sh -c '...'``) runs
        on the kubelet's own timeline: the session shows its output from the start and ends with
        it, so nothing runs twice and the exit code is the kubelet's."""
        from . import userland
        pod = self.store.get(self._pods(), namespace, name)
        view = userland.container_view(self.store, pod, container, self.store.clock.time())
        # the process the kubelet started: command/args with $(VAR) expanded, else the image's own
        argv = userland.expand_command(self.store, pod, container) if (spec.get("command") or spec.get("args")) else []
        if not argv:
            argv = list(view.command()) if hasattr(view, "command") else []
        argv = argv or ["sh"]
        if not reads_stdin(argv):
            self._attach_output(namespace, name, container, session, streams, replay=True,
                                interruptible=streams.tty and session.stdin is not None)
            return success_status()
        key = (namespace, name, container)
        attached = self._sessions()
        null = lambda data: None  # noqa: E731
        stdout = session.out(STDOUT) if streams.stdout else null
        stderr = session.out(STDOUT if streams.tty else STDERR) if (streams.stderr or streams.tty) else null
        stdin = session.stdin if session.stdin is not None else Stdin()
        if session.stdin is None:
            stdin.close()
        if key in {s.key for s in attached}:
            # one process per container: a second attach would share it; keep it simple and honest
            stderr(b"kubesim: this container's process is already attached elsewhere\r\n")
            return success_status()
        session.key = key
        code = int(userland.run(view, argv, stdin, stdout, stderr, tty=streams.tty, store=self.store))
        self._process_ended(namespace, name, container, code)
        return success_status()

    def _process_ended(self, namespace: str, name: str, container: str, code: int) -> None:
        """Tell the kubelet that the container's main process exited with ``code``."""
        mgr = self.manager
        ended = getattr(getattr(mgr, "kubelet", None), "process_ended", None)
        if ended is None:
            return
        with mgr.lock:
            ended(namespace, name, container, code)
        settle = getattr(mgr, "settle", None)
        if settle is not None:
            settle()

    def _attach_output(self, namespace: str, name: str, container: str, session: Any,
                       streams: Streams, replay: bool, interruptible: bool = False) -> None:
        """What the process prints (from now on, or with ``replay`` from its start), until it
        ends, the client goes or the server stops: a container without stdin, as a real attach.
        ``interruptible``: the session is the process's terminal (``kubectl run -i --tty``), so a
        ^C typed there ends the process (SIGINT: the load generator's loop stops, exit code 130)."""
        import time
        pods = self._pods()
        try:
            pod = self.store.get(pods, namespace, name)
        except errors.ApiError:
            return
        write = session.out(STDOUT) if streams.stdout else session.out(STDERR) if streams.stderr else None
        dropped = getattr(self, "log_dropped", lambda p, c: 0)
        # ``sent``: where the output shown so far ends, counting what a bounded log has dropped
        sent = dropped(pod, container) if replay else dropped(pod, container) + len(self.log_source(pod, container))
        stopped = False
        while not session.gone and not getattr(self, "stopping", False):
            time.sleep(0.1)
            if interruptible and not stopped and session.stdin.interrupted():
                stopped = True
                self._process_ended(namespace, name, container, 130)
            try:
                pod = self.store.get(pods, namespace, name)
            except errors.ApiError:
                return
            text = self.log_source(pod, container)
            gone = dropped(pod, container)
            end = gone + len(text)
            if end > sent and write is not None:
                data = text[max(0, sent - gone):].encode()
                write(data.replace(b"\n", b"\r\n") if streams.tty else data)  # a terminal's output
            sent = end if end >= sent else 0
            if not self._running(pod, container):
                return
