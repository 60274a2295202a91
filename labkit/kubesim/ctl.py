"""``python -m labkit.kubesim ctl [--kubeconfig F] [--context C] status | advance 5m | speed 10``

Why a command of its own: a learner in a terminal wants "five minutes later" or "ten times faster"
in one short line, without writing the JSON body of the clock's API (``control.py``). It finds the
server as kubectl does (``--kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``; the
current or the given context), talks plain HTTP to the emulator on 127.0.0.1 and prints one
line: ``clock: 2026-12-01T15:20:00Z, speed 10x, following real time``. Every failure is one
sentence in plain words and exit code 1; it never connects to anything but a local emulator.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .control import ADVANCE_EXAMPLE, API_VERSION, URL, duration_text, parse_duration

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
NOT_EMULATOR = "this cluster is not the course emulator"
TIMEOUT = 120.0  # an advance of hours runs every controller on the way


class CtlError(Exception):
    """A failure to tell the user in one sentence."""


def kubeconfig_files(given: str | None) -> list[Path]:
    """The kubeconfig files kubectl would read, in order."""
    if given:
        return [Path(given).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def server_of(given: str | None, context: str | None) -> str:
    """The server URL of the current (or the given) context, merged over the files as kubectl merges them."""
    files = kubeconfig_files(given)
    present = [f for f in files if f.is_file()]
    if not present:
        where = ", ".join(str(f) for f in files)
        raise CtlError(f"no kubeconfig at {where}: start the emulator with python -m labkit.kubesim --kubeconfig FILE "
                       "and pass --kubeconfig FILE (or set KUBECONFIG)")
    current, contexts, clusters = "", {}, {}
    for f in present:
        try:
            doc = yaml.safe_load(f.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise CtlError(f"cannot read the kubeconfig {f}: {exc}") from None
        if not isinstance(doc, dict):
            raise CtlError(f"{f} is not a kubeconfig (no clusters, contexts or current-context in it)")
        current = current or doc.get("current-context") or ""
        for entry in doc.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in contexts:
                contexts[entry["name"]] = entry.get("context") or {}
        for entry in doc.get("clusters") or []:
            if isinstance(entry, dict) and entry.get("name") and entry["name"] not in clusters:
                clusters[entry["name"]] = entry.get("cluster") or {}
    name = context or current
    if not name:
        raise CtlError(f"the kubeconfig {present[0]} has no current context: pass --context NAME "
                       f"(contexts: {', '.join(contexts) or 'none'})")
    if name not in contexts:
        raise CtlError(f"the kubeconfig has no context {name!r} (contexts: {', '.join(contexts) or 'none'})")
    cluster = clusters.get(contexts[name].get("cluster", ""))
    if not cluster or not cluster.get("server"):
        raise CtlError(f"the context {name!r} names no cluster with a server in the kubeconfig")
    return str(cluster["server"]).rstrip("/")


def _request(server: str, method: str, path: str, body: Any = None, content_type: str = "application/json") -> dict:
    parts = urlsplit(server)
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS:
        raise CtlError(f"{NOT_EMULATOR} (its server is {server}; the emulator serves plain HTTP on 127.0.0.1): "
                       "ctl works only with python -m labkit.kubesim; pick its context with --context or --kubeconfig")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method,
                                 headers={"Accept": "application/json", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:
            text = answer.read()
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            status = json.loads(text)
        except ValueError:
            status = {}
        if exc.code == 404 and not (isinstance(status, dict) and "clocks" in str(status.get("message", ""))):
            raise CtlError(f"{NOT_EMULATOR} (the server at {server} has no {API_VERSION} clock API)") from None
        message = status.get("message") if isinstance(status, dict) else None
        raise CtlError(message or f"the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CtlError(f"no emulator answers at {server} ({reason}): is python -m labkit.kubesim still running? "
                       "start it with python -m labkit.kubesim --kubeconfig FILE") from None
    try:
        clock = json.loads(text)
    except ValueError:
        raise CtlError(f"{NOT_EMULATOR} (the server at {server} did not answer with a Clock)") from None
    if not isinstance(clock, dict) or clock.get("kind") != "Clock":
        raise CtlError(f"{NOT_EMULATOR} (the server at {server} did not answer with a Clock)")
    return clock


def describe(clock: dict) -> str:
    """``clock: 2026-12-01T15:20:00Z, speed 10x, following real time`` (or frozen)."""
    status, spec = clock.get("status") or {}, clock.get("spec") or {}
    speed = f"{float(spec.get('speed', 1)):g}x"
    if status.get("realtime"):
        return f"clock: {status.get('now')}, speed {speed}, following real time"
    return f"clock: {status.get('now')}, frozen (it moves only when advanced; speed {speed} applies while following real time)"


def _speed(text: str) -> float:
    try:
        value = float(text.rstrip("x"))
    except ValueError:
        raise CtlError(f"{text!r} is not a speed: write a number, e.g. speed 10 (ten simulated seconds per real second)") from None
    if not 0 < value <= 1000:
        raise CtlError(f"speed {text} is out of range: more than 0 and at most 1000 (1 follows real time)")
    return value


def run(args: argparse.Namespace) -> str:
    """Do what ``args`` asks; returns the line to print (``CtlError`` on failure)."""
    if args.command == "advance":
        try:
            seconds = parse_duration(args.value)
        except ValueError as exc:
            raise CtlError(f"bad duration: {exc}") from None
        server = server_of(args.kubeconfig, args.context)
        clock = _request(server, "POST", URL + "/advance",
                         {"apiVersion": API_VERSION, "kind": "Advance", "duration": args.value})
        return f"advanced {duration_text(seconds)}; {describe(clock)}"
    if args.command == "speed":
        speed = _speed(args.value)
        server = server_of(args.kubeconfig, args.context)
        clock = _request(server, "PATCH", URL, {"spec": {"speed": int(speed) if speed.is_integer() else speed}},
                         "application/merge-patch+json")
        return describe(clock)
    return describe(_request(server_of(args.kubeconfig, args.context), "GET", URL))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.kubesim ctl", description=__doc__.splitlines()[0],
                                     epilog=f"the same through kubectl: kubectl get clock cluster; the advance body is {ADVANCE_EXAMPLE}")
    parser.add_argument("--kubeconfig", help="the kubeconfig (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="the context to use (default: the current context)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="status|advance|speed")
    sub.add_parser("status", help="print the simulated time and speed")
    adv = sub.add_parser("advance", help="run the cluster forward at once, e.g. advance 5m (90s, 1h30m)")
    adv.add_argument("value", metavar="DURATION")
    spd = sub.add_parser("speed", help="simulated seconds per real second from now on, e.g. speed 10")
    spd.add_argument("value", metavar="N")
    args = parser.parse_args(argv)
    try:
        print(run(args))
    except CtlError as exc:
        print(f"kubesim ctl: {exc}", file=sys.stderr)
        return 1
    return 0
