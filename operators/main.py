"""The operator process: ``python -m seer.operators.main`` (the image's operator command).

Serves the operator's Prometheus metrics (``SEER_OPERATOR_METRICS_PORT``, 8080) and
kopf's liveness probe (``/healthz`` on 8081), then runs kopf cluster-wide.

With ``--leader-election`` (the chart's default) the process first waits for the Lease
(``seer.operators.leader``): a standby serves ``/healthz`` itself and starts kopf only once it
leads, so replicas > 1 never reconcile at the same time. A leader that loses its lease exits
(the kubelet restarts it as a standby); a clean shutdown hands the lease over at once.
"""

from __future__ import annotations

import argparse
import http.server
import logging
import os
import signal
import threading
from urllib.parse import urlparse

import kopf

from seer.operators.leader import Elector, Timing, default_identity
from seer.operators.metrics import DEFAULT_PORT
from seer.platform.contract import OPERATOR_LIVENESS_PORT
from seer.platform.kube.client import load_api_client
from seer.platform.worker import worker_image_pull_policy

log = logging.getLogger(__name__)

#: Exit status of a leader that lost its lease (not 0: the pod restarts, as a standby).
EXIT_LEADERSHIP_LOST = 3
#: Exit status when kopf did not stop within SHUTDOWN_GRACE_SECONDS of SIGTERM (the lease is released).
EXIT_SHUTDOWN_TIMEOUT = 4
#: How long kopf may take to stop after SIGTERM (its handlers finish their reconcile).
SHUTDOWN_GRACE_SECONDS = 20.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seer.operators.main")
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--liveness", default=f"http://0.0.0.0:{OPERATOR_LIVENESS_PORT}/healthz")
    parser.add_argument("--namespace", action="append", default=[], help="watch only these namespaces (default: all)")
    parser.add_argument("--verbose", action="store_true")
    le = parser.add_argument_group("leader election (replicas > 1)")
    le.add_argument("--leader-election", action="store_true", help="act only while holding the Lease")
    le.add_argument("--leader-election-namespace", default=os.environ.get("POD_NAMESPACE") or "default")
    le.add_argument("--leader-election-lease", default="seer-operator", help="the Lease's name")
    le.add_argument("--leader-election-identity", default=None, help="default: <pod name>_<random>")
    le.add_argument("--lease-duration", type=float, default=Timing.lease_duration)
    le.add_argument("--renew-deadline", type=float, default=Timing.renew_deadline)
    le.add_argument("--retry-period", type=float, default=Timing.retry_period)
    return parser


class _StandbyHealth:
    """``/healthz`` → 200 while standing by (kopf serves it once leading), so the liveness
    probe does not kill a healthy standby."""

    def __init__(self, url: str | None) -> None:
        self.server: http.server.ThreadingHTTPServer | None = None
        if not url:
            return
        parsed = urlparse(url)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                ok = self.path.split("?")[0] == (parsed.path or "/")
                self.send_response(200 if ok else 404)
                self.end_headers()
                self.wfile.write(b"standby\n" if ok else b"")

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((parsed.hostname or "0.0.0.0", parsed.port or 80), Handler)
        threading.Thread(target=self.server.serve_forever, name="standby-health", daemon=True).start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _lost(reason: str) -> None:
    log.critical("leader election: lost leadership (%s); exiting so no second operator acts", reason)
    logging.shutdown()
    os._exit(EXIT_LEADERSHIP_LOST)  # at once: no reconcile may run past the renew deadline


def _run_kopf(args: argparse.Namespace, stopping: threading.Event) -> int:
    """kopf in a thread of its own, stopped through ``stopping`` (set by SIGTERM/SIGINT).

    Why a thread: kopf in the main thread installs its own signal handlers, and a SIGTERM that
    arrives during its start-up discovery can leave it retrying on a closed connection forever.
    Here the main thread owns the signals and bounds the shutdown, so the lease is always
    handed over and the process always ends."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            kopf.run(
                standalone=True,
                clusterwide=not args.namespace,
                namespaces=args.namespace,  # kopf needs a collection: () with clusterwide (None crashed it)
                liveness_endpoint=args.liveness or None,
                stop_flag=stopping,
            )
        except BaseException as e:  # noqa: BLE001 — reported by the main thread
            failure.append(e)
            log.exception("the operator stopped with an error")

    thread = threading.Thread(target=target, name="kopf", daemon=True)
    thread.start()
    while thread.is_alive() and not stopping.wait(1.0):
        pass
    thread.join(timeout=SHUTDOWN_GRACE_SECONDS)
    if thread.is_alive():
        log.warning("kopf did not stop within %s s of the signal; exiting anyway", SHUTDOWN_GRACE_SECONDS)
        return EXIT_SHUTDOWN_TIMEOUT
    return 1 if failure else 0


def main(argv: list[str] | None = None) -> int:
    # NOTE: imported here, not at module level: importing registers the kopf handlers and
    # fixes the resync interval from the environment, a side effect that importing this
    # module for its parser (tests, docs tools) must not have.
    from seer.operators import handlers

    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    worker_image_pull_policy()  # a bad workerDefaults.imagePullPolicy stops here, not at every reconcile
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    if args.metrics_port:
        handlers.STATE.metrics.serve(args.metrics_port)
    elector: Elector | None = None
    if args.leader_election:
        timing = Timing(args.lease_duration, args.renew_deadline, args.retry_period)
        elector = Elector(
            load_api_client(prefer_in_cluster=True),
            args.leader_election_namespace,
            args.leader_election_lease,
            args.leader_election_identity or default_identity(),
            timing,
        )
    code = 0
    try:
        if elector is not None:
            health = _StandbyHealth(args.liveness or None)
            try:
                if not elector.acquire(stop=stopping):
                    return 0  # stopped while standing by
            finally:
                health.close()
            elector.keep(on_lost=_lost)
        code = _run_kopf(args, stopping)
    finally:
        if elector is not None:
            elector.release()  # only if this process holds it
    if code == EXIT_SHUTDOWN_TIMEOUT:
        logging.shutdown()
        os._exit(code)  # kopf's threads may still hold the interpreter's exit
    return code


if __name__ == "__main__":
    raise SystemExit(main())
