"""``python -m kube_emulator``: run the emulator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading

from . import Emulator


def _seconds(value: str) -> float:
    """A number of seconds, or ``forever``."""
    if value == "forever":
        return math.inf
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds nor 'forever': %r" % value) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kube_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kube-version", default="1.31",
                        help="schema set for built-in kinds (1.25-1.37; default 1.31)")
    parser.add_argument("--crd-dir", action="append", default=[],
                        help="preload every CustomResourceDefinition in DIR (repeatable)")
    parser.add_argument("--kubeconfig", help="write a kubeconfig pointing at the server")
    parser.add_argument("--ready-file", help='write {"url": ..., "port": ...} once listening')
    parser.add_argument("--request-log", help="append one JSON line per request to this file")
    parser.add_argument("--namespace-deletion-delay", type=float, default=0.5,
                        help="seconds a deleted namespace stays Terminating (0: removed at once)")
    parser.add_argument("--hold-workloads", type=_seconds, default=0, metavar="SECONDS",
                        help="keep Deployments, StatefulSets and Jobs unready for SECONDS after each spec "
                             "change ('forever': until the emulator stops; default 0: ready at once)")
    parser.add_argument("--fail-jobs", action="store_true", help="Jobs fail (BackoffLimitExceeded)")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="delay every API request by this many milliseconds (a cluster elsewhere)")
    args = parser.parse_args(argv)

    try:
        emulator = Emulator(kube_version=args.kube_version, crd_dirs=args.crd_dir, host=args.host,
                            port=args.port, request_log=args.request_log,
                            namespace_deletion_delay=args.namespace_deletion_delay,
                            hold_workloads=args.hold_workloads, fail_jobs=args.fail_jobs,
                            latency_ms=args.latency_ms)
    except ValueError as exc:
        parser.error(str(exc))
    emulator.start()
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig)
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"url": emulator.url, "port": emulator.port}, fh)
        os.replace(tmp, args.ready_file)  # readers never see a partial file
    print(f"kube_emulator listening on {emulator.url}", file=sys.stderr, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
