"""``python -m labkit.kubesim --kubeconfig FILE [--port N] [--seed N] [--name course] [--workers 2] [--speed 1] [--profile kind]``

Serves until interrupted (Ctrl-C or SIGTERM); writes FILE once ready and prints one line with the URL.
``python -m labkit.kubesim ctl status|advance 5m|speed 10`` talks to a running one (``ctl.py``).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import PROFILES, start


def _speed(text: str) -> float:
    try:
        value = float(text.rstrip("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. --speed 10)") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"{text} is out of range: more than 0 and at most 1000 (1 is real time)")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ctl"]:
        from .ctl import main as ctl_main
        return ctl_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m labkit.kubesim", description=__doc__.splitlines()[0],
                                     epilog="python -m labkit.kubesim ctl --help: read, speed up or advance "
                                            "the clock of a running emulator")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same cluster (default 0)")
    parser.add_argument("--name", default="course", help="cluster name, as kind's --name (default course)")
    parser.add_argument("--workers", type=int, default=2, help="number of worker nodes (default 2)")
    parser.add_argument("--speed", type=_speed, default=1.0,
                        help="simulated seconds per real second (default 1; 10 runs ten times faster, at most 1000)")
    parser.add_argument("--profile", choices=PROFILES, default="kind",
                        help="what the cluster looks like: kind (default) or gke (GKE-like nodes, LoadBalancer IPs)")
    args = parser.parse_args(argv)
    try:
        sim = start(args.kubeconfig, port=args.port, seed=args.seed, name=args.name, workers=args.workers,
                    speed=args.speed, profile=args.profile)
    except OSError as exc:
        print(f"kubesim: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"kubesim: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    pace = f", clock at {args.speed:g}x real time" if args.speed != 1 else ""
    print(f"kubesim: Kubernetes API at {sim.url} (kubeconfig {sim.kubeconfig}, context {sim.context}{pace})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
