"""``python -m labkit.kubesim --kubeconfig FILE [--port N] [--seed N] [--name course] [--workers 2]``

Serves until interrupted (Ctrl-C or SIGTERM); writes FILE once ready and prints one line with the URL.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.kubesim", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same cluster (default 0)")
    parser.add_argument("--name", default="course", help="cluster name, as kind's --name (default course)")
    parser.add_argument("--workers", type=int, default=2, help="number of worker nodes (default 2)")
    args = parser.parse_args(argv)
    try:
        sim = start(args.kubeconfig, port=args.port, seed=args.seed, name=args.name, workers=args.workers)
    except OSError as exc:
        print(f"kubesim: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"kubesim: Kubernetes API at {sim.url} (kubeconfig {sim.kubeconfig}, context {sim.context})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
