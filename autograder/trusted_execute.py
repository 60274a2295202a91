"""nbgrader's Execute across two kernels: the learner's sandbox and a trusted evaluator.

Each code cell goes where it belongs (`route`):
- the learner's cells (answers, cells they added) run in the sandbox only, as under nbgrader;
- locked setup cells run in both: the sandbox's outputs are the notebook's, the evaluator
  gets the same imports and helpers the tests rely on;
- autograded test cells (visible and hidden parts, restored from the gradebook) run in the
  evaluator only. Their outputs are the evaluator's, and so is their verdict: the points
  come from nbgrader's own `determine_grade` on those outputs.

Before each test cell the sandbox lists its names (the first answer of the cell's serving
session, `_autograder_agent.serve`) and the evaluator binds them as the cell starts (its
`pre_run_cell` hook asks for them over the bridge): functions become proxies, plain data
is copied. Calling a proxy comes here over the bridge (a Unix socket only the evaluator can
reach); the sandbox serves each test cell's calls over one socket session
(`_autograder_agent.serve`, started by one execute request), and we send back each call's
outputs and answer. API clients of the evaluator's practice clusters go
to the sandbox as tunnels: a Unix socket in the sandbox slot's `kernel/` directory that
forwards to the cluster's port on 127.0.0.1. The wire formats are issue 15's.

Everything runs on the executor's own event loop (the one nbclient's `run_sync` keeps per
thread), so the bridge is served while nbclient waits for the evaluator's reply.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import time
import urllib.parse
from pathlib import Path
from queue import Empty

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_hook
from nbgrader import utils

from . import evaluator_agent, plain, sandbox_agent
from .execute import GuardedExecute
from .sandbox_agent import ANSWER_MIME

LINE_LIMIT = 64 * 1024 * 1024  # one bridge line: an answer (16 MiB of codec text) and its outputs
STOPPED = ("your notebook's kernel stopped (it exited, crashed, ran out of memory, or the submission ran "
           "out of time) while the tests were calling {name}")
NO_ANSWER = ("your notebook's kernel did not answer the grader's call to {name} (does your code change how "
             "IPython runs code?)")


def connected_client(km):
    """The client the kernel pool connected when it started `km` (see KernelPool._start), or a new one."""
    kc = getattr(km, "prepared_client", None)
    if kc is None:
        kc = km.client()
        kc.start_channels()
    return kc


# After the kernel's reply, how long its idle status may take before the request is sent again.
STATUS_GRACE = 0.05


async def ready(kc, km, timeout: float) -> None:
    """Wait until the kernel answers on its shell channel and its IOPub reaches `kc`.

    jupyter_client's `wait_for_ready` does that too, then drains IOPub until it has been quiet
    for 0.2 s: 0.2 s per kernel and submission, for messages nbclient would skip anyway (it
    reads only the replies to its own requests). Here a kernel_info request's reply and its
    idle status prove both channels. A kernel just forked may publish that status before our
    IOPub subscription has reached it (ZeroMQ's "slow joiner": the message is dropped, the
    reply on the shell channel is not): then the request goes again, until a status of one of
    ours arrives. Waiting out the second for the lost one cost about 1.2 s in one kernel start of
    twenty to sixty. Without both in a second, `wait_for_ready` decides.
    """
    sent = {kc.kernel_info()}
    deadline = time.monotonic() + 1.0
    replied_at = None
    idle = False
    while not (replied_at and idle) and time.monotonic() < deadline:
        if replied_at is None:
            try:
                reply = await ensure_async(kc.shell_channel.get_msg(timeout=0.02))
                if reply["parent_header"].get("msg_id") in sent:
                    replied_at = time.monotonic()
            except Empty:
                pass
        if not idle:
            try:
                msg = await ensure_async(kc.iopub_channel.get_msg(timeout=0.02))
                idle = (msg["parent_header"].get("msg_id") in sent and msg["msg_type"] == "status"
                        and msg["content"].get("execution_state") == "idle")
            except Empty:
                if replied_at is not None and time.monotonic() - replied_at > STATUS_GRACE:
                    sent.add(kc.kernel_info())  # its status was lost on the way: ask again
                    replied_at = time.monotonic()
    if not (replied_at and idle):
        await ensure_async(kc.wait_for_ready(timeout=timeout))


def route(cell) -> str:
    """'sandbox', 'both' (locked setup cells) or 'evaluator' (autograded test cells)."""
    if cell.cell_type != "code" or not utils.is_locked(cell) or utils.is_solution(cell):
        return "sandbox"
    return "evaluator" if utils.is_grade(cell) else "both"


def verdict(cell) -> dict:
    """nbgrader's score for a test cell from its outputs; its errors become a 0 with a problem."""
    max_score = float(cell.metadata["nbgrader"].get("points", 0) or 0)
    try:
        score, max_score = utils.determine_grade(cell)
        return {"score": float(score), "max_score": float(max_score), "problem": None}
    except Exception as error:  # partial credit above the points, an empty text/plain
        return {"score": 0.0, "max_score": max_score,
                "problem": f"the test cell's result could not be scored ({type(error).__name__}: {str(error)[:200]})"}


def hand_over(conn: socket.socket, port: int) -> None:
    """Answer one tunnel connection from the sandbox: a new connection to 127.0.0.1:`port`, sent
    over `conn` as a file descriptor (SCM_RIGHTS); then both of ours are closed."""
    try:
        conn.setblocking(True)
        conn.settimeout(5)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as upstream:
            upstream.settimeout(None)
            socket.send_fds(conn, [b"\0"], [upstream.fileno()])
    except OSError:  # the cluster is gone, or the sandbox hung up: its client sees a closed connection
        pass
    finally:
        conn.close()


class Tunnels:
    """Unix sockets in the sandbox slot's kernel/ directory, one per local port. Each connection the
    sandbox makes to one is answered with a connection to that port, handed over (`hand_over`).

    Why hand over rather than relay: the API traffic of a learner's function (pod lists of hundreds
    of kB, many per test cell on assignment 3) then goes from the sandbox to the cluster directly,
    not through this process's event loop, which also serves the kernels' messages. The sandbox
    cannot open that connection itself: it has no network but its own loopback."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.listeners: dict[int, tuple[socket.socket, Path]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def socket_for(self, host: str) -> str:
        url = urllib.parse.urlsplit(host)
        if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost") or not url.port:
            raise ValueError(f"an API client for {host!r}: the grader only hands over clients of a cluster on 127.0.0.1")
        if url.port not in self.listeners:
            path = self.directory / f"tunnel-{url.port}.sock"
            if path.exists() or path.is_symlink():
                path.unlink()
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(path))
            listener.listen(16)
            listener.setblocking(False)
            os.chmod(path, 0o666)  # the sandbox's uid connects to it
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(listener.fileno(), self._accept, listener, url.port)
            self.listeners[url.port] = (listener, path)
        return str(self.listeners[url.port][1])

    @staticmethod
    def _accept(listener: socket.socket, port: int) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:  # another wake-up took it, or the listener is closing
            return
        hand_over(conn, port)

    async def rewrite(self, payload: str) -> str:
        """Codec text with host markers -> the same with socket markers (a tunnel for each)."""
        hosts: set[str] = set()
        plain.map_api(payload, lambda marker: hosts.add(marker["host"]) or marker)
        if not hosts:
            return payload
        sockets = {host: await self.socket_for(host) for host in hosts}
        return plain.map_api(payload, lambda marker: {"API": marker["API"], "socket": sockets[marker["host"]]})

    def close(self) -> None:
        for listener, path in self.listeners.values():
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(listener.fileno())
            listener.close()
            try:
                path.unlink()
            except OSError:
                pass
        self.listeners.clear()


class TrustedExecute(GuardedExecute):
    """GuardedExecute whose test cells run in the evaluator, with verdicts and a cost split."""

    evaluator_km = None
    bridge_path: Path | None = None
    tunnel_dir: Path | None = None

    def preprocess(self, nb, resources=None, km=None):
        self.verdicts: dict[str, dict] = {}
        self.cost = {"sandbox": 0.0, "evaluator": 0.0, "clusters": 0.0}
        self._boot = {"sandbox": sandbox_agent.bootstrap(), "evaluator": evaluator_agent.bootstrap()}
        self.evaluator_kc = None
        self.bridge = None
        self.tunnels = Tunnels(self.tunnel_dir) if self.tunnel_dir else None
        self._sandbox_died = False
        self._calls: set[asyncio.Task] = set()
        self._session = None  # (reader, writer, the serve request) while the sandbox serves calls
        self._pending_manifest = None  # the names the evaluator's hook binds as the next test cell starts
        self._accepted: asyncio.Queue | None = None
        self._calls_server = None
        try:
            result = super().preprocess(nb, resources, km)
            run_sync(self._cluster_seconds)()
            return result
        finally:
            run_sync(self._close)()

    # --- set-up and tear-down ---------------------------------------------------------

    async def async_start_new_kernel_client(self):
        kc = self.kc = connected_client(self.km)
        try:
            await asyncio.gather(ready(kc, self.km, self.startup_timeout), self._evaluator_ready())
        except Exception:
            await self._async_cleanup_kernel()
            raise
        kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        self.sandbox_km, self.sandbox_kc = self.km, kc
        kernels = tuple((name, client, manager) for name, client, manager in
                        (("sandbox", kc, self.km), ("evaluator", self.evaluator_kc, self.evaluator_km))
                        if not getattr(manager, "agent_preloaded", False))  # a fork server's kernel has its agent
        # The agents not preloaded start at once: each kernel compiles its own (two separate processes).
        booted = await asyncio.gather(*(self._request(client, manager, self._boot[name], timeout=self.startup_timeout)
                                        for name, client, manager in kernels))
        for (name, _, manager), (outputs, _, reply) in zip(kernels, booted):
            if not reply or reply.get("status") != "ok":
                detail = (reply or {}).get("evalue") or "no answer" + ("" if await ensure_async(manager.is_alive()) else
                                                                       ", the kernel is gone")
                raise RuntimeError(f"the grader's agent did not start in the {name} kernel ({detail})")
        if self.bridge_path.exists() or self.bridge_path.is_symlink():
            self.bridge_path.unlink()
        self.bridge = await asyncio.start_unix_server(self._bridge_client, path=str(self.bridge_path), limit=LINE_LIMIT)
        os.chmod(self.bridge_path, 0o600)
        return kc

    async def _evaluator_ready(self) -> None:
        self.evaluator_kc = connected_client(self.evaluator_km)
        await ready(self.evaluator_kc, self.evaluator_km, self.startup_timeout)
        self.evaluator_kc.allow_stdin = False

    # nbclient binds its sync wrappers to its own coroutines: bind them to ours.
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _cluster_seconds(self) -> None:
        """Seconds the evaluator spent on practice clusters (labkit.practice_clusters.cluster_seconds)."""
        if self.evaluator_kc is None:
            return
        expression = ("getattr(__import__('sys').modules.get('labkit.practice_clusters'), 'cluster_seconds', "
                      "lambda: 0.0)()")
        try:
            _, _, reply = await self._request(self.evaluator_kc, self.evaluator_km, "", timeout=10,
                                              user_expressions={"seconds": expression})
            data = reply["user_expressions"]["seconds"]["data"]["text/plain"]
            self.cost["clusters"] = round(float(data), 3)
        except Exception:  # an older labkit, a dead evaluator: no figure
            pass

    async def _close(self) -> None:
        await self._end_session(timeout=5)
        if self._calls_server is not None:
            self._calls_server.close()
            self._calls_server = None
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None
        if self.tunnels is not None:
            self.tunnels.close()
        if self.evaluator_kc is not None:
            try:
                await ensure_async(self.evaluator_kc.stop_channels())
            except Exception:
                pass

    # --- cells ----------------------------------------------------------------------

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        where = route(cell)
        if where == "sandbox" or not cell.source.strip():
            return await self._timed("sandbox", super().async_execute_cell(cell, cell_index, execution_count, store_history))
        if where == "both":
            done = await self._timed("sandbox", super().async_execute_cell(cell, cell_index, execution_count, store_history))
            await self._timed("evaluator", self._in_evaluator(copy.deepcopy(done), cell_index))
            self.nb["cells"][cell_index] = done
            return done
        await self._bind(cell)
        calls_before = self.cost["sandbox"]
        started = time.monotonic()
        try:
            done = await self._in_evaluator(cell, cell_index)
            # A call the evaluator gave up on (timeout) ends before the sandbox runs anything
            # else: two readers of its channels would take each other's messages.
            if self._calls:
                await asyncio.gather(*self._calls, return_exceptions=True)
            await self._end_session(timeout=self._get_timeout(cell))
        finally:
            self.cost["evaluator"] += time.monotonic() - started - (self.cost["sandbox"] - calls_before)
        self.verdicts[cell.metadata["nbgrader"]["grade_id"]] = verdict(done)
        if self._sandbox_died and not await ensure_async(self.sandbox_km.is_alive()):
            raise DeadKernelError("the notebook's kernel died during a test")
        return done

    execute_cell = run_sync(async_execute_cell)

    async def _timed(self, which: str, job):
        started = time.monotonic()
        try:
            return await job
        finally:
            self.cost[which] += time.monotonic() - started

    async def _in_evaluator(self, cell, cell_index):
        """nbclient's execute_cell with the evaluator as `km`/`kc` (so its timeout interrupts the evaluator)."""
        saved = self.km, self.kc
        self.km, self.kc = self.evaluator_km, self.evaluator_kc
        try:
            return await super().async_execute_cell(cell, cell_index)
        finally:
            self.km, self.kc = saved

    async def _bind(self, cell) -> None:
        """The sandbox's names, as of now, held for the evaluator, whose hook binds them as the cell
        starts (`evaluator_agent.bind_pending`). The names come as the first answer of the cell's
        serving session, which then serves the cell's calls: no request of its own on either side."""
        manifest = {"names": {}}
        started = time.monotonic()
        answer = await self._session_manifest(self._get_timeout(cell))
        self.cost["sandbox"] += time.monotonic() - started
        if isinstance(answer, dict) and isinstance(answer.get("names"), dict):
            manifest = answer
        self._pending_manifest = json.dumps(manifest)

    # --- requests to a kernel ---------------------------------------------------------

    async def _request(self, kc, km, code: str, timeout: float | None = None, interrupt: bool = False,
                       user_expressions: dict | None = None) -> tuple[list[dict], dict | None, dict | None]:
        """Run `code` silently; (outputs, the last answer it published, the reply's content).

        Outputs are streams and displays (answers left out), capped at the notebook's output
        limit. The reply is None when the kernel died or the time ran out (then the kernel
        is interrupted when `interrupt` is set).
        """
        msg_id = await ensure_async(kc.execute(code, silent=True, store_history=False, allow_stdin=False,
                                               stop_on_error=False, user_expressions=user_expressions or {}))
        deadline = time.monotonic() + timeout if timeout else None
        outputs: list[dict] = []
        answer = None
        size = 0
        idle = False
        while not idle:
            try:
                msg = await ensure_async(kc.iopub_channel.get_msg(timeout=0.2))
            except Empty:
                if not await ensure_async(km.is_alive()) or (self.killed is not None and self.killed.is_set()):
                    return outputs, answer, None
                if deadline is not None and time.monotonic() > deadline:
                    if interrupt:
                        await ensure_async(km.interrupt_kernel())
                    return outputs, answer, None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "stream":
                size += len(content.get("text", ""))
                if size <= self.output_limit:
                    outputs.append({"stream": "stderr" if content.get("name") == "stderr" else "stdout",
                                    "text": str(content.get("text", ""))})
            elif kind in ("display_data", "execute_result", "update_display_data"):
                data = content.get("data") or {}
                if ANSWER_MIME in data:
                    try:
                        answer = json.loads(data[ANSWER_MIME])
                    except (TypeError, ValueError):
                        answer = None
                    continue
                size += sum(len(str(v)) for v in data.values())
                if size <= self.output_limit:
                    outputs.append({"display": {str(k): v for k, v in data.items()}})
            elif kind == "error":
                size += sum(len(line) for line in content.get("traceback", []))
                if size <= self.output_limit:
                    outputs.append({"stream": "stderr", "text": "\n".join(content.get("traceback", [])) + "\n"})
        # The reply follows the idle status at once, unless the machine is very busy.
        waited = 0.0
        while True:
            try:
                reply = await ensure_async(kc.shell_channel.get_msg(timeout=0.5))
            except Empty:
                waited += 0.5
                if waited >= 30 or not await ensure_async(km.is_alive()):
                    return outputs, answer, None
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return outputs, answer, reply["content"]

    # --- the bridge -----------------------------------------------------------------

    async def _bridge_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One proxy call: a request line in, one reply line out (or a cancel line in)."""
        task = asyncio.current_task()
        self._calls.add(task)
        try:
            reply = await self._serve_call(reader)
            if reply is not None:
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except Exception as error:  # never let one call take the grader down
            try:
                writer.write((json.dumps({"failed": f"the grader could not make this call ({type(error).__name__})"})
                              + "\n").encode())
                await writer.drain()
            except Exception:
                pass
        finally:
            self._calls.discard(task)
            writer.close()

    async def _serve_call(self, reader: asyncio.StreamReader) -> dict | None:
        request = json.loads(await reader.readline())
        if isinstance(request, dict) and request.get("op") == "manifest":  # the evaluator's hook, as a cell starts
            pending, self._pending_manifest = self._pending_manifest, None
            return {"manifest": pending}
        name, payload = request.get("name"), request.get("payload")
        if request.get("op") != "call" or not isinstance(name, str) or not name.isidentifier() \
                or not isinstance(payload, str):
            return {"failed": "the grader's evaluator sent a malformed call"}
        if self.tunnels is not None:
            try:
                payload = await self.tunnels.rewrite(payload)
            except ValueError as error:
                return {"failed": str(error)}
        started = time.monotonic()
        call = asyncio.ensure_future(self._session_call(name, payload))
        cancel = asyncio.ensure_future(reader.readline())
        try:
            done, _ = await asyncio.wait({call, cancel}, return_when=asyncio.FIRST_COMPLETED)
            if call not in done:  # the evaluator was interrupted (timeout) or went away
                await ensure_async(self.sandbox_km.interrupt_kernel())
                call.cancel()
                await self._end_session(timeout=5)
                return None
        finally:
            cancel.cancel()
            self.cost["sandbox"] += time.monotonic() - started
        reply = call.result()
        if reply is None and not await ensure_async(self.sandbox_km.is_alive()):
            self._sandbox_died = True
            return {"failed": STOPPED.format(name=name)}
        answer = reply.get("answer") if isinstance(reply, dict) else None
        if not isinstance(answer, dict):
            if self.killed is not None and self.killed.is_set():
                return {"failed": STOPPED.format(name=name)}
            return {"failed": NO_ANSWER.format(name=name)}
        outputs = [o for o in reply.get("outputs") or [] if isinstance(o, dict)]
        return {"outputs": outputs, "answer": answer}

    # --- the sandbox serving calls (one session per test cell) ------------------------

    async def _open_session(self):
        """Ask the sandbox to serve calls on a socket in its kernel/ directory; None if it does not."""
        if self._session is not None:
            return self._session
        path = self.tunnel_dir / "calls.sock"
        if self._calls_server is None:
            if path.exists() or path.is_symlink():
                path.unlink()
            self._accepted = asyncio.Queue()
            self._calls_server = await asyncio.start_unix_server(
                lambda r, w: self._accepted.put_nowait((r, w)), path=str(path), limit=LINE_LIMIT)
            os.chmod(path, 0o666)  # the sandbox's uid connects to it
        request = asyncio.ensure_future(self._request(self.sandbox_kc, self.sandbox_km, sandbox_agent.serve_code(str(path))))
        accepted = asyncio.ensure_future(self._accepted.get())
        await asyncio.wait({request, accepted}, return_when=asyncio.FIRST_COMPLETED)
        if not accepted.done():  # the serve request ended at once: the agent is gone or broken
            accepted.cancel()
            return None
        reader, writer = accepted.result()
        self._session = (reader, writer, request)
        return self._session

    async def _session_call(self, name: str, payload: str) -> dict | None:
        """One call through the serving session: its reply line, or None when the session ended."""
        session = await self._open_session()
        if session is None:
            return None
        reader, writer, request = session
        try:
            writer.write((json.dumps({"name": name, "payload": payload}) + "\n").encode())
            await writer.drain()
            line = asyncio.ensure_future(reader.readline())
            await asyncio.wait({line, request}, return_when=asyncio.FIRST_COMPLETED)
            if not line.done() or not line.result():
                line.cancel()
                await self._end_session(timeout=5)
                return None
            reply = json.loads(line.result())
        except (OSError, ValueError):
            await self._end_session(timeout=5)
            return None
        return reply if isinstance(reply, dict) else None

    async def _session_manifest(self, timeout: float | None) -> dict | None:
        """The sandbox's names, asked on the serving session (opened here); None if it did not answer in time."""
        session = await self._open_session()
        if session is None:
            return None
        reader, writer, request = session
        try:
            writer.write(b'{"op": "manifest"}\n')
            await writer.drain()
            line = asyncio.ensure_future(reader.readline())
            await asyncio.wait({line, request}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not line.done():  # learner code hung while its names were read, or the session ended
                line.cancel()
                if not request.done():
                    await ensure_async(self.sandbox_km.interrupt_kernel())
                await self._end_session(timeout=5)
                return None
            reply = json.loads(line.result()) if line.result() else None
        except (OSError, ValueError):
            await self._end_session(timeout=5)
            return None
        return reply.get("answer") if isinstance(reply, dict) else None

    async def _end_session(self, timeout: float | None) -> None:
        """Close the session and wait (at most `timeout`) for the serve request to finish, so no
        reader of the sandbox's channels is left when the next cell runs."""
        if self._session is None:
            return
        reader, writer, request = self._session
        self._session = None
        try:
            writer.close()
        except Exception:
            pass
        try:
            await asyncio.wait_for(asyncio.shield(request), timeout)
        except Exception:
            request.cancel()
