"""The per-job rendezvous endpoint: a standalone c10d ``TCPStore`` server.

``python -m seer.operators.rendezvous_store --port 29400`` runs in a small pod behind
the job's headless Service. torchrun's c10d rendezvous backend connects as a client
(the endpoint host is not the worker itself), so losing any worker, rank 0
included, leaves rendezvous intact - the Kubeflow failure mode this avoids.
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import timedelta

from seer.platform.contract import RDZV_PORT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seer.operators.rendezvous_store")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=RDZV_PORT)
    args = parser.parse_args(argv)
    from torch.distributed import TCPStore  # heavy import only when actually serving

    store = TCPStore(args.host, args.port, is_master=True, wait_for_workers=False, timeout=timedelta(hours=1))
    print(f"rendezvous store listening on {args.host}:{args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del store
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
