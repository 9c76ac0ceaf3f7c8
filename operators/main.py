"""The operator process: ``python -m seer.operators.main`` (the image's operator command).

Serves the operator's Prometheus metrics (``SEER_OPERATOR_METRICS_PORT``, 8080) and
kopf's liveness probe (``/healthz`` on 8081), then runs kopf cluster-wide.
"""

from __future__ import annotations

import argparse
import logging

import kopf

from seer.operators import handlers
from seer.operators.metrics import DEFAULT_PORT
from seer.platform.contract import OPERATOR_LIVENESS_PORT
from seer.platform.worker import worker_image_pull_policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seer.operators.main")
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--liveness", default=f"http://0.0.0.0:{OPERATOR_LIVENESS_PORT}/healthz")
    parser.add_argument("--namespace", action="append", default=[], help="watch only these namespaces (default: all)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    worker_image_pull_policy()  # a bad workerDefaults.imagePullPolicy stops here, not at every reconcile
    if args.metrics_port:
        handlers.STATE.metrics.serve(args.metrics_port)
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace or None,
        liveness_endpoint=args.liveness or None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
