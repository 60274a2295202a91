"""``wget``, ``curl`` and ``nc`` inside a container: resolve the name through the pod's DNS
(:mod:`.dns`), find who answers that address (``serving.resolve``: a pod IP, a ClusterIP through a
ready endpoint, a NodePort) and what it says (``serving.http_request``), and print it the way
busybox wget, curl 8 and nc print success and failure.

Why not a real socket: the servers of the emulated cluster are data (what each image answers),
and the addresses exist only inside the emulator.

A view may carry ``observe(backend, answer)``: the traffic engine (``controllers/traffic.py``) sets
it on a client loop's container to learn which pod answered each request and what it cost
(``answer`` None when the connection failed, with the seconds the failure took); an exec's view has none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import dns
from .command_io import _err
from .shell import IO, Shell

PORTS = {"http": 80, "https": 443}


@dataclass
class Outcome:
    """One HTTP exchange: the answer, or why there was none (``error`` is refused | unreachable |
    closed | resolve | tls)."""

    ip: str = ""
    status: int = 0
    reason: str = ""
    headers: dict[str, str] | None = None
    body: bytes = b""
    error: str = ""
    detail: str = ""


def _target(url: str) -> tuple[str, str, int, str]:
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    host = parts.hostname or ""
    try:
        port = parts.port or PORTS.get(scheme, 80)
    except ValueError:
        port = PORTS.get(scheme, 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path


def _address(sh: Shell, host: str) -> str | None:
    if host in ("localhost", "127.0.0.1", "::1", sh.view.hostname):
        return sh.view.pod_ip or "127.0.0.1"
    files = sh.view.files
    answer = dns.resolve(sh.store, host, (files.get("/etc/resolv.conf") or b"").decode(), (files.get("/etc/hosts") or b"").decode())
    if answer is None or not answer.addresses:
        return None
    if answer.addresses[0] in ("127.0.0.1",):
        return sh.view.pod_ip or "127.0.0.1"
    return answer.addresses[0]


def connect(sh: Shell, host: str, port: int) -> tuple[str, Any, str]:
    """(ip, backend, error): error is '' | resolve | refused | unreachable."""
    from .. import serving
    ip = _address(sh, host)
    if ip is None:
        return "", None, "resolve"
    own = sh.view.pod_ip
    backend = serving.resolve(sh.store, ip, port, sh.view.namespace, client_ip=own)
    if isinstance(backend, serving.Refused):
        return ip, None, "unreachable" if "no route" in backend.message else "refused"
    return ip, backend, ""


def http(sh: Shell, url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes = b"") -> Outcome:
    """One request to ``url`` from this container."""
    from .. import serving
    scheme, host, port, path = _target(url)
    ip, backend, error = connect(sh, host, port)
    observe = getattr(sh.view, "observe", None)
    if error or scheme == "https" or backend.pod is None:
        if observe is not None:  # an address whose machine is gone costs the dialer its ARP timeout, a silent DNS its own
            waited = serving.UNREACHABLE_SECONDS if error == "unreachable" else \
                dns.TIMEOUT_SECONDS if error == "resolve" and not dns.server_answers(sh.store) else 0.0
            observe(backend, None, waited)
        return Outcome(ip=ip, error=error or ("tls" if scheme == "https" else "closed"))
    hdrs = {"Host": host if port == PORTS.get(scheme) else f"{host}:{port}", **(headers or {})}
    try:
        own = backend.pod["metadata"].get("uid") == sh.view.pod["metadata"].get("uid")
        client = "127.0.0.1" if own else (sh.view.pod.get("status") or {}).get("podIP", "")
        answer = serving.http_request(sh.store, backend.pod, backend.port, method, path, hdrs, body, client=client)
    except serving.ConnectionClosed:
        answer = None
        outcome = Outcome(ip=ip, error="closed")
    except serving.ConnectionRefused as refused:
        answer = None
        outcome = Outcome(ip=ip, error="refused", detail=refused.message)
    if observe is not None:
        observe(backend, answer)
    if answer is None:
        return outcome
    return Outcome(ip=ip, status=answer.status, reason=answer.reason, headers=dict(answer.headers), body=answer.body)


_WHY = {"refused": "Connection refused", "unreachable": "No route to host"}


# ---- wget (busybox) ------------------------------------------------------------------------
def _wget(sh: Shell, argv: list[str], io: IO) -> int:
    quiet, output, spider, headers_only = False, None, False, False
    urls: list[str] = []
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-O", "--output-document") and i + 1 < len(args):
            output = args[i + 1]
            i += 2
            continue
        if a.startswith("--output-document="):
            output = a.split("=", 1)[1]
        elif a in ("-T", "-t", "-U", "--header", "--timeout", "--tries", "-Y", "-P") and i + 1 < len(args):
            i += 2
            continue
        elif a == "--spider":
            spider = True
        elif a in ("-S", "--server-response"):
            headers_only = True
        elif a.startswith("--"):
            quiet = quiet or a == "--quiet"
        elif a.startswith("-") and len(a) > 1:
            flags = a[1:]
            if "O" in flags:
                rest = flags.split("O", 1)[1]
                if rest:
                    output = rest
                elif i + 1 < len(args):
                    output = args[i + 1]
                    i += 1
                flags = flags.split("O", 1)[0]
            quiet = quiet or "q" in flags
        else:
            urls.append(a)
        i += 1
    if not urls:
        _err(sh, io, "BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n"
             "Usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n"
             "\t[--post-data STR | --post-file FILE] [-Y on/off]\n\t[-P DIR] [-U AGENT] [-T SEC] URL...")
        return 1
    status = 0
    for url in urls:
        scheme, host, port, path = _target(url)
        result = http(sh, url, "HEAD" if spider else "GET", {"User-Agent": "Wget", "Connection": "close"})
        if result.error == "resolve":
            _err(sh, io, f"wget: bad address '{host}'")
            status = 1
            continue
        if not quiet:
            _err(sh, io, f"Connecting to {host}{'' if host == result.ip else ''} ({result.ip}:{port})")
        if result.error in ("refused", "unreachable"):
            _err(sh, io, f"wget: can't connect to remote host ({result.ip}): {_WHY[result.error]}")
            status = 1
            continue
        if result.error == "tls":
            _err(sh, io, "kubesim: HTTPS inside the cluster is not emulated (no TLS); use http://")
            status = 1
            continue
        if result.error == "closed":
            _err(sh, io, "wget: error getting response: Connection reset by peer")
            status = 1
            continue
        if headers_only and result.headers is not None:
            _err(sh, io, f"  HTTP/1.1 {result.status} {result.reason}" + "".join(f"\n  {k}: {v}" for k, v in result.headers.items()))
        if result.status >= 400:
            _err(sh, io, f"wget: server returned error: HTTP/1.1 {result.status} {result.reason}")
            status = 1
            continue
        if spider:
            if not quiet:
                _err(sh, io, "remote file exists")
            continue
        target = output or (path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "index.html")
        if path.split("?", 1)[0].endswith("/") and not output:
            target = "index.html"
        size = len(result.body)
        if target == "-":
            if not quiet:
                _err(sh, io, "writing to stdout")
            io.out(result.body)
            if not quiet:
                _err(sh, io, f"{'-':<20} 100% |********************************| {_size(size):>5}  0:00:00 ETA\nwritten to stdout")
            continue
        if not quiet:
            _err(sh, io, f"saving to '{target}'")
        problem = sh.view.write(sh.path(target), result.body)
        if problem:
            _err(sh, io, f"wget: can't open '{target}': {problem}")
            status = 1
            continue
        if not quiet:
            _err(sh, io, f"{target[:20]:<20} 100% |********************************| {_size(size):>5}  0:00:00 ETA\n'{target}' saved")
    return status


def _size(n: int) -> str:
    return str(n) if n < 100000 else f"{n // 1024}k"


# ---- curl ---------------------------------------------------------------------------------
def _curl(sh: Shell, argv: list[str], io: IO) -> int:
    silent = show_error = include = head = fail = verbose = False
    method, data, output, write_out = None, None, None, None
    headers: dict[str, str] = {}
    urls: list[str] = []
    args = argv[1:]
    i = 0
    takes = {"-X", "--request", "-H", "--header", "-d", "--data", "--data-raw", "--data-binary", "-o", "--output", "-m",
             "--max-time", "--connect-timeout", "-w", "--write-out", "-A", "--user-agent", "-u", "--user", "--retry", "-e"}
    while i < len(args):
        a = args[i]
        if a in takes and i + 1 < len(args):
            v = args[i + 1]
            if a in ("-X", "--request"):
                method = v
            elif a in ("-H", "--header") and ":" in v:
                k, _, hv = v.partition(":")
                headers[k.strip()] = hv.strip()
            elif a.startswith("-d") or a.startswith("--data"):
                data = v
            elif a in ("-o", "--output"):
                output = v
            elif a in ("-w", "--write-out"):
                write_out = v
            i += 2
            continue
        if a.startswith("--"):
            silent = silent or a == "--silent"
            show_error = show_error or a == "--show-error"
            include = include or a == "--include"
            head = head or a == "--head"
            fail = fail or a == "--fail"
            verbose = verbose or a == "--verbose"
        elif a.startswith("-") and len(a) > 1:
            f = a[1:]
            silent, show_error, include = silent or "s" in f, show_error or "S" in f, include or "i" in f
            head, fail, verbose = head or "I" in f, fail or "f" in f, verbose or "v" in f
        else:
            urls.append(a)
        i += 1
    if not urls:
        _err(sh, io, "curl: try 'curl --help' or 'curl --manual' for more information")
        return 2
    quiet_errors = silent and not show_error
    code = 0
    for url in urls:
        scheme, host, port, path = _target(url)
        verb = method or ("HEAD" if head else ("POST" if data is not None else "GET"))
        result = http(sh, url, verb, {"User-Agent": "curl/8.11.1", "Accept": "*/*", **headers}, (data or "").encode())
        if verbose:
            _err(sh, io, f"* Host {host}:{port} was resolved.\n*   Trying {result.ip}:{port}..." if result.ip
                 else f"* Could not resolve host: {host}")
        if result.error == "resolve":
            code = 6
            if not quiet_errors:
                _err(sh, io, f"curl: (6) Could not resolve host: {host}")
            continue
        if result.error in ("refused", "unreachable"):
            code = 7
            if not quiet_errors:
                _err(sh, io, f"curl: (7) Failed to connect to {host} port {port} after 0 ms: "
                     + ("Couldn't connect to server" if result.error == "refused" else "Could not connect to server"))
            continue
        if result.error == "tls":
            code = 35
            if not quiet_errors:
                _err(sh, io, "kubesim: HTTPS inside the cluster is not emulated (no TLS); use http://")
            continue
        if result.error == "closed":
            code = 52
            if not quiet_errors:
                _err(sh, io, "curl: (52) Empty reply from server")
            continue
        if fail and result.status >= 400:
            code = 22
            if not quiet_errors:
                _err(sh, io, f"curl: (22) The requested URL returned error: {result.status}")
            continue
        head_text = f"HTTP/1.1 {result.status} {result.reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in (result.headers or {}).items()) + "\r\n"
        if verbose:
            _err(sh, io, f"* Connected to {host} ({result.ip}) port {port}\n> {verb} {path} HTTP/1.1\n> Host: {host}\n"
                 f"> User-Agent: curl/8.11.1\n> Accept: */*\n>\n< " + head_text.strip().replace("\r\n", "\n< "))
        payload = (head_text.encode() if include or head else b"") + (b"" if head else result.body)
        if not silent and sh.terminal is None and output != "-":
            n = len(result.body)
            _err(sh, io, "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
                 "                                 Dload  Upload   Total   Spent    Left  Speed\n"
                 f"100 {n:>5}  100 {n:>5}    0     0   {n}k      0 --:--:-- --:--:-- --:--:--  {n}k")
        if output and output != "-":
            problem = sh.view.write(sh.path(output), payload)
            if problem:
                _err(sh, io, f"curl: (23) Failure writing output to destination, passed {len(payload)} returned 0")
                code = 23
        else:
            io.out(payload)
        if write_out:
            io.out(write_out.replace("%{http_code}", str(result.status)).replace("\\n", "\n").encode())
    return code


# ---- nc ------------------------------------------------------------------------------------
def _nc(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and not re.fullmatch(r"-w\d*", a))
    rest = [a for a in argv[1:] if not a.startswith("-")]
    rest = [a for i, a in enumerate(rest) if not (i > 0 and argv[argv.index(a) - 1] in ("-w", "-W"))]
    if len(rest) < 2:
        _err(sh, io, "Usage: nc [OPTIONS] HOST PORT  - connect\nnc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen")
        return 1
    host, port_text = rest[0], rest[1]
    try:
        port = int(port_text)
    except ValueError:
        _err(sh, io, f"nc: bad port '{port_text}'")
        return 1
    ip, backend, error = connect(sh, host, port)
    if error == "resolve":
        _err(sh, io, f"nc: bad address '{host}'")
        return 1
    if error:
        _err(sh, io, f"nc: {host} ({ip}:{port}): {_WHY[error]}" if "v" in flags else f"nc: can't connect to remote host ({ip}): {_WHY[error]}")
        return 1
    if "v" in flags:
        _err(sh, io, f"{host} ({ip}:{port}) open")
    if "z" in flags:
        return 0
    data = io.stdin.read()
    if data and backend.pod is not None:
        from .. import serving
        try:
            conv = serving.Conversation(sh.store, backend.pod, backend.port)
            io.out(conv.feed(data) or b"")
        except Exception:
            pass
    return 0
