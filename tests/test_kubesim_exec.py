"""exec, attach, ``kubectl run -it --rm`` and ``kubectl logs -f`` against the emulator, with real
kubectl and the official Python client (the flows of its own e2e tests, test_pod_apis and
test_exit_code), and the channel protocol seen from a plain WebSocket client.

Most tests use a frozen emulator (``realtime=False``) and move its clock themselves; the
``kubectl run`` flow uses a real-time one, because kubectl waits for the pod's phase.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import websocket as wsclient

from conftest import skip_unless_ci
from labkit import kubesim

BUSY_LOOP = ["sh", "-c", "while true; do date; sleep 5; done"]


def _pod(name: str, args: list[str], **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": name, "image": "busybox", "args": args}], **spec}}


def _phase(sim, name: str) -> str:
    from labkit.kubesim import resources
    try:
        return (sim.store.get(resources.by_kind("v1", "Pod"), "default", name).get("status") or {}).get("phase", "")
    except Exception:
        return "Gone"


def _kubectl_env(sim, where) -> dict[str, str]:
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    env = {k: v for k, v in os.environ.items() if k != "KUBECTL_REMOTE_COMMAND_WEBSOCKETS"}
    return dict(env, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(where / "cache"))


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """A frozen emulator with a running busybox pod ``bb``; ``frozen.kubectl(...)`` runs kubectl."""
    where = tmp_path_factory.mktemp("exec")
    sim = kubesim.start(where / "kubeconfig", seed=0, realtime=False)
    from kubernetes import client, config
    core = client.CoreV1Api(config.new_client_from_config(sim.kubeconfig))
    core.create_namespaced_pod("default", _pod("bb", BUSY_LOOP))
    for _ in range(30):
        sim.advance(1)
        if _phase(sim, "bb") == "Running":
            break
    env = _kubectl_env(sim, where)

    def kubectl(*args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig, *args], input=stdin, capture_output=True,
                              text=True, env={**env, **extra}, timeout=60)
    sim.kubectl, sim.env, sim.core = kubectl, env, core  # type: ignore[attr-defined]
    yield sim
    sim.stop()


def _start(sim, name: str, args: list[str], **spec) -> None:
    sim.core.create_namespaced_pod("default", _pod(name, args, **spec))
    for _ in range(30):
        sim.advance(1)
        if _phase(sim, name) != "Pending":
            return


# ---- kubectl exec ---------------------------------------------------------------------------

def test_kubectl_exec_env_of_a_running_pod(frozen):
    done = frozen.kubectl("exec", "bb", "--", "env")
    assert done.returncode == 0, done.stderr
    assert "HOSTNAME=bb" in done.stdout.splitlines()


def test_kubectl_exec_exit_codes(frozen):
    done = frozen.kubectl("exec", "bb", "--", "false")
    assert (done.returncode, done.stderr) == (1, "command terminated with exit code 1\n")
    done = frozen.kubectl("exec", "bb", "--", "sh", "-c", "exit 3")
    assert (done.returncode, done.stderr) == (3, "command terminated with exit code 3\n")


def test_kubectl_exec_with_piped_stdin_keeps_stderr_apart(frozen):
    done = frozen.kubectl("exec", "-i", "bb", "--", "sh", stdin="echo to-out\necho to-err >&2\nexit 4\n")
    assert done.stdout == "to-out\n"
    assert done.stderr == "to-err\ncommand terminated with exit code 4\n"
    assert done.returncode == 4


def test_kubectl_exec_errors_read_as_on_a_real_cluster(frozen):
    done = frozen.kubectl("exec", "nope", "--", "env")
    assert (done.returncode, done.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')
    done = frozen.kubectl("exec", "bb", "-c", "zz", "--", "env")
    assert done.stderr == "Error from server (BadRequest): container zz is not valid for pod bb\n"
    frozen.core.create_namespaced_pod("default", _pod("pend", ["sleep", "3600"], nodeSelector={"disk": "none"}))
    frozen.advance(2)
    done = frozen.kubectl("exec", "pend", "--", "env")
    assert (done.returncode, done.stderr) == (1, "Error from server (BadRequest): pod pend does not have a host assigned\n")
    _start(frozen, "done", ["sh", "-c", "echo bye"], restartPolicy="Never")
    frozen.advance(2)
    done = frozen.kubectl("exec", "done", "--", "env")
    assert done.stderr == "error: cannot exec into a container in a completed pod; current phase is Succeeded\n"
    _start(frozen, "crash", ["sh", "-c", "exit 1"])
    frozen.advance(1)
    assert _phase(frozen, "crash") == "Running"  # restarting: the pod runs, its container does not
    done = frozen.kubectl("exec", "crash", "--", "env")
    assert done.stderr == 'error: Internal error occurred: unable to upgrade connection: container not found ("crash")\n'


def test_kubectl_cp_both_ways(frozen, tmp_path):
    """``kubectl cp`` is ``tar`` over exec: a file goes in, the shell sees it, and comes back out."""
    local = tmp_path / "note.txt"
    local.write_text("written on the host\n")
    put = frozen.kubectl("cp", str(local), "bb:/tmp/note.txt")
    assert put.returncode == 0, put.stderr
    assert frozen.kubectl("exec", "bb", "--", "cat", "/tmp/note.txt").stdout == "written on the host\n"
    back = tmp_path / "back.txt"
    got = frozen.kubectl("cp", "bb:/tmp/note.txt", str(back))
    assert got.returncode == 0, got.stderr
    assert back.read_text() == "written on the host\n"


def test_kubectl_exec_over_spdy(frozen):
    spdy = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    done = frozen.kubectl("exec", "bb", "--", "env", **spdy)
    assert done.returncode == 0 and "HOSTNAME=bb" in done.stdout.splitlines()
    done = frozen.kubectl("exec", "-i", "bb", "--", "sh", stdin="echo to-out\necho to-err >&2\nexit 4\n", **spdy)
    assert (done.stdout, done.stderr, done.returncode) == ("to-out\n", "to-err\ncommand terminated with exit code 4\n", 4)
    _start(frozen, "crash-spdy", ["sh", "-c", "exit 1"])
    frozen.advance(1)
    done = frozen.kubectl("exec", "crash-spdy", "--", "env", **spdy)
    assert done.stderr == 'error: unable to upgrade connection: container not found ("crash-spdy")\n'


def test_exec_without_an_upgrade_is_refused(frozen):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{frozen.url}/api/v1/namespaces/default/pods/bb/exec?command=env&stdout=true", timeout=5)
    assert err.value.code == 400
    assert json.loads(err.value.read())["message"] == "Upgrade request required"


# ---- the channel protocol, from a plain WebSocket client ----------------------------------

def _ws(sim, query: str, protocol: str, sub: str = "exec") -> wsclient.WebSocket:
    url = sim.url.replace("http://", "ws://") + f"/api/v1/namespaces/default/pods/bb/{sub}?{query}"
    return wsclient.create_connection(url, subprotocols=[protocol], timeout=10)


def _drain(conn: wsclient.WebSocket) -> list[bytes]:
    out = []
    while True:
        op, data = conn.recv_data(control_frame=False)
        if op == wsclient.ABNF.OPCODE_CLOSE:
            return out
        out.append(data)


def test_v4_error_channel_carries_the_kubelets_status(frozen):
    conn = _ws(frozen, "command=false&stdout=true&stderr=true", "v4.channel.k8s.io")
    assert conn.getsubprotocol() == "v4.channel.k8s.io"
    frames = _drain(conn)
    assert frames[0] == b"\x01"  # the lowest writable channel, empty: the streams are ready
    assert json.loads(frames[-1][1:]) == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command [false], exit code 1",
        "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}}
    assert frames[-1][:1] == b"\x03"


def test_base64_protocol_and_repeated_command_parameters(frozen):
    conn = _ws(frozen, "command=sh&command=-c&command=echo%20hi&stdout=true", "base64.channel.k8s.io")
    frames = _drain(conn)
    assert frames[0] == b"1"
    assert [(f[:1], base64.b64decode(f[1:])) for f in frames[1:]] == [(b"1", b"hi\n")]  # success: nothing on 3


def test_v5_stdin_close_ends_cat(frozen):
    conn = _ws(frozen, "command=cat&stdin=true&stdout=true", "v5.channel.k8s.io")
    conn.send_binary(b"\x00line\n")
    conn.send_binary(b"\xff\x00")  # v5: close stdin
    frames = _drain(conn)
    assert b"".join(f[1:] for f in frames if f[:1] == b"\x01") == b"line\n"
    assert json.loads(frames[-1][1:])["status"] == "Success"


# ---- the official Python client, as its e2e tests use it ----------------------------------

def test_python_client_exec_flows_of_test_pod_apis(frozen):
    from kubernetes.stream import stream
    from kubernetes.stream.ws_client import ERROR_CHANNEL
    api = frozen.core
    resp = stream(api.connect_get_namespaced_pod_exec, "bb", "default", command=["/bin/sh", "-c", "echo a; echo b; echo c"],
                  stderr=False, stdin=False, stdout=True, tty=False)
    assert isinstance(resp, str) and resp.splitlines() == ["a", "b", "c"]
    resp = stream(api.connect_post_namespaced_pod_exec, "bb", "default", command=["env"],
                  stderr=False, stdin=False, stdout=True, tty=False, binary=True)
    assert isinstance(resp, bytes) and b"HOSTNAME=bb\n" in resp
    for binary in (False, True):
        enc = (lambda s: s.encode()) if binary else (lambda s: s)
        resp = stream(api.connect_post_namespaced_pod_exec, "bb", "default", command=["/bin/sh"],
                      stderr=True, stdin=True, stdout=True, tty=False, binary=binary, _preload_content=False)
        resp.write_stdin(enc("echo test string 1\n"))
        assert resp.readline_stdout(timeout=5) == enc("test string 1")
        assert not resp.peek_stderr()
        resp.write_stdin(enc("echo test string 2 >&2\n"))
        assert resp.readline_stderr(timeout=5) == enc("test string 2")
        assert not resp.peek_stdout()
        resp.write_stdin(enc("exit\n"))
        resp.update(timeout=5)
        deadline = time.time() + 5
        line = resp.read_channel(ERROR_CHANNEL)
        while not line and time.time() < deadline:
            resp.update(timeout=1)
            line = resp.read_channel(ERROR_CHANNEL)
        assert json.loads(line)["status"] == "Success"
        resp.update(timeout=5)
        assert not resp.is_open()


def test_python_client_returncode_of_test_exit_code(frozen):
    from kubernetes.stream import stream
    for command, value in ((["false"], 1), (["/bin/sh", "-c", "exit 3"], 3), (["true"], 0)):
        client = stream(frozen.core.connect_get_namespaced_pod_exec, "bb", "default", command=command,
                        stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        assert client.returncode is None
        client.run_forever(timeout=10)
        assert client.returncode == value
        assert client.returncode == value  # idempotent


def test_python_client_close_channel_of_v5(frozen):
    from kubernetes.stream import stream
    resp = stream(frozen.core.connect_post_namespaced_pod_exec, "bb", "default", command=["cat"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    assert resp.subprotocol == "v5.channel.k8s.io"
    resp.write_stdin("test-close\n")
    assert resp.readline_stdout(timeout=5) == "test-close"
    resp.close_channel(0)
    resp.run_forever(timeout=15)
    assert not resp.is_open() and resp.returncode == 0


def test_python_client_attach_to_a_stdin_shell_ends_the_container_with_its_exit_code(frozen):
    from kubernetes.stream import stream
    frozen.core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "it"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "it", "image": "busybox", "stdin": True, "stdinOnce": True}]}})
    frozen.advance(5)
    assert _phase(frozen, "it") == "Running"  # its shell waits for someone to type
    resp = stream(frozen.core.connect_get_namespaced_pod_attach, "it", "default", stdin=True, stdout=True, stderr=True,
                  tty=False, _preload_content=False)
    resp.write_stdin("echo attached\n")
    assert resp.readline_stdout(timeout=5) == "attached"
    resp.write_stdin("exit 7\n")
    resp.run_forever(timeout=5)
    assert resp.returncode == 0  # attach reports Success, as the kubelet does; the exit code is the container's
    frozen.advance(1)
    status = frozen.core.read_namespaced_pod("it", "default").status
    assert (status.phase, status.container_statuses[0].state.terminated.exit_code) == ("Failed", 7)


def test_requests_the_kubelet_refuses(frozen):
    for query, message in (("stdout=true", "you must specify at least 1 command"),
                           ("command=env", "you must specify at least 1 of stdin, stdout, stderr")):
        conn_error = None
        try:
            _ws(frozen, query, "v5.channel.k8s.io")
        except wsclient.WebSocketBadStatusException as exc:
            conn_error = exc
        assert conn_error is not None and conn_error.status_code == 400
        assert json.loads(conn_error.resp_body)["message"] == message
    conn = _ws(frozen, "command=sh&stdin=true&stdout=true&tty=true", "v5.channel.k8s.io")
    conn.send_binary(b'\x04{"Width":120,"Height":40}')  # a terminal resize: accepted
    conn.send_binary(b"\x00exit 2\r")
    frames = _drain(conn)
    assert json.loads(frames[-1][1:])["details"]["causes"][0]["message"] == "2"


# ---- logs -f and attach of a container without stdin ---------------------------------------

def _reader(proc: subprocess.Popen) -> tuple[list[str], threading.Thread]:
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return lines, thread


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("verb", ["logs -f", "attach"])
def test_followed_output_gets_later_lines_and_ends_with_the_container(frozen, verb):
    name = "talk-" + verb.split()[0]
    _start(frozen, name, ["sh", "-c", "echo one; sleep 10; echo two; sleep 10; echo three"], restartPolicy="Never")
    assert _phase(frozen, name) == "Running"
    proc = subprocess.Popen(["kubectl", "--kubeconfig", frozen.kubeconfig, *verb.split(), name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=frozen.env)
    try:
        lines, _ = _reader(proc)
        if verb == "logs -f":
            assert _wait_for(lambda: lines == ["one\n"])
        else:  # attach shows what comes after it attached: let it attach first
            assert _wait_for(lambda: len(getattr(frozen.api, "sessions", ())) == 1)
        time.sleep(0.5)
        assert "two\n" not in lines  # the clock has not reached it
        frozen.advance(10)
        assert _wait_for(lambda: "two\n" in lines)
        assert proc.poll() is None
        frozen.advance(15)
        assert proc.wait(timeout=10) == 0
        assert lines[-2:] == ["two\n", "three\n"]
    finally:
        proc.kill()


def test_logs_limit_bytes_timestamps_and_previous(frozen):
    done = frozen.kubectl("logs", "--limit-bytes=5", "talk-logs")
    assert done.stdout == "one\nt"
    stamped = frozen.kubectl("logs", "--timestamps", "talk-logs").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two", "three"]
    assert all(line[:4].isdigit() and line.split(" ")[0].endswith("Z") for line in stamped)
    done = frozen.kubectl("logs", "--previous", "talk-logs")
    assert done.stderr.strip() == 'Error from server (BadRequest): previous terminated container "talk-logs" in pod "talk-logs" not found'


# ---- kubectl run -it --rm (real time: kubectl waits for the pod) ----------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    where = tmp_path_factory.mktemp("exec-live")
    sim = kubesim.start(where / "kubeconfig", seed=0, realtime=True)
    sim.env = _kubectl_env(sim, where)  # type: ignore[attr-defined]
    yield sim
    sim.stop()


def test_kubectl_run_it_rm_with_piped_stdin(live):
    done = subprocess.run(["kubectl", "--kubeconfig", live.kubeconfig, "run", "-i", "--tty", "--rm", "t", "--image=busybox",
                           "--restart=Never", "--", "sh"], input="echo hello\nexit 3\n", capture_output=True, text=True,
                          env=live.env, timeout=60)
    assert "Unable to use a TTY" in done.stderr
    assert "hello" in done.stdout.splitlines()
    assert 'pod "t" deleted' in done.stdout + done.stderr
    assert done.returncode == 3
    assert _wait_for(lambda: _phase(live, "t") == "Gone")


def test_kubectl_run_i_rm_of_a_command_shows_its_output_once_and_its_exit_code(live):
    done = subprocess.run(["kubectl", "--kubeconfig", live.kubeconfig, "run", "-i", "--rm", "once", "--image=busybox",
                           "--restart=Never", "--", "sh", "-c", "echo hi there; sleep 1; echo bye; exit 4"],
                          capture_output=True, text=True, env=live.env, timeout=60)
    assert done.stdout.splitlines()[:2] == ["hi there", "bye"]  # once: the kubelet's process, not a second run
    assert 'pod "once" deleted' in done.stdout
    assert done.returncode == 4, done.stderr


# ---- threads ---------------------------------------------------------------------------------

def test_an_idle_cluster_runs_no_session_thread_and_stop_ends_live_sessions(tmp_path):
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    try:
        from kubernetes import client, config
        core = client.CoreV1Api(config.new_client_from_config(sim.kubeconfig))
        core.create_namespaced_pod("default", _pod("bb", BUSY_LOOP))
        for _ in range(10):
            sim.advance(1)
        baseline = {t.name for t in threading.enumerate()}
        for tty in ("false", "true"):
            conn = _ws(sim, f"command=sh&stdin=true&stdout=true&tty={tty}", "v5.channel.k8s.io")
            assert _wait_for(lambda: any(t.name == "kubesim-exec-reader" for t in threading.enumerate()))
            conn.send_binary(b"\x00exit 0\r\n")
            _drain(conn)
            conn.close()
        follow = urllib.request.urlopen(f"{sim.url}/api/v1/namespaces/default/pods/bb/log?follow=true", timeout=5)
        follow.read(1)
        assert _wait_for(lambda: len({t.name for t in threading.enumerate()} - baseline) == 1)  # its request thread
        follow.close()  # the client goes away: the followed log ends
        assert _wait_for(lambda: not any(t.name == "kubesim-exec-reader" for t in threading.enumerate()))
        assert _wait_for(lambda: {t.name for t in threading.enumerate()} <= baseline)
        conn = _ws(sim, "command=sh&stdin=true&stdout=true", "v5.channel.k8s.io")  # waits on stdin
        assert _wait_for(lambda: len(sim.api.sessions) == 1)
    finally:
        sim.stop()
    _drain(conn)  # the server's stop closed it
    assert _wait_for(lambda: not any(t.name == "kubesim-exec-reader" for t in threading.enumerate()))


# ---- a real terminal -------------------------------------------------------------------------

def _in_terminal(env: dict[str, str], args: list[str], keys: list[bytes], seconds: float = 20.0) -> tuple[bytes, int]:
    """Run kubectl on a pseudo-terminal, typing ``keys`` one after the other; (output, exit code)."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl with the terminal as stdin, stdout and stderr
        os.execvpe("kubectl", ["kubectl", *args], env)
    out, deadline, pending = b"", time.time() + seconds, list(keys)
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.3)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif pending:
                os.write(fd, pending.pop(0))
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("websockets", ["true", "false"])
def test_kubectl_exec_it_in_a_terminal(frozen, websockets):
    env = dict(frozen.env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS=websockets)
    out, code = _in_terminal(env, ["--kubeconfig", frozen.kubeconfig, "exec", "-it", "bb", "--", "sh"],
                             [b"echo hi\r", b"exit 5\r"])
    assert b"echo hi\r\nhi\r\n" in out  # the terminal echoes what is typed, LF becomes CRLF
    assert code == 5
