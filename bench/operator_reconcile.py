"""Operator reconcile benchmark against the Kubernetes emulator.

1. Latency: SeerJob created -> all its pods exist, p50/p95 over N sequential jobs.
2. Scale: 200 jobs x 4 workers submitted at once: wall time until all 1000 pods
   (800 workers + 200 rendezvous) exist, and the operator's peak RSS.
The operator runs as a real ``kopf run`` subprocess (so its RSS is its own).

    OMP_NUM_THREADS=1 .venv/bin/python bench/operator_reconcile.py [--latency-jobs 30] [--jobs 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

import kube_emulator  # noqa: E402
import kubernetes  # noqa: E402

from seer.platform.crd import build_crd  # noqa: E402
from seer.platform.spec import SeerJob  # noqa: E402


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pods(emu, ns):
    return emu.call(lambda: sum(1 for (g, p, n, _) in emu.emulator.store if p == "pods" and n == ns))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-jobs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with kube_emulator.serve_in_thread([build_crd()]) as emu, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = emu.write_kubeconfig(Path(tmp) / "kubeconfig")
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "OMP_NUM_THREADS": "1",
            "SEER_OPERATOR_RESYNC_SECONDS": "60",
        }
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kopf",
                "run",
                "--all-namespaces",
                "--standalone",
                "--quiet",
                "-m",
                "seer.operators.handlers",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            custom = kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(str(kubeconfig)))

            def submit(name, ns):
                doc = SeerJob.model_validate(
                    {
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {"resources": {"nodes": {"min": 1, "max": args.workers}}},
                    }
                ).to_document()
                custom.create_namespaced_custom_object("seer.dev", "v1alpha1", ns, "seerjobs", doc)

            # warm-up: the operator is up when its first job gets pods
            submit("warmup", "warm")
            deadline = time.monotonic() + 60
            while _pods(emu, "warm") < args.workers + 1:
                assert time.monotonic() < deadline, "operator did not start"
                time.sleep(0.02)

            latencies = []
            for i in range(args.latency_jobs):
                ns = f"lat{i}"
                start = time.perf_counter()
                submit("job", ns)
                while _pods(emu, ns) < args.workers + 1:
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - start)
            latencies.sort()
            p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
            print(
                f"reconcile latency (created -> {args.workers + 1} pods), {len(latencies)} jobs: "
                f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
            )

            rss_before = _rss_mib(operator.pid)
            start = time.perf_counter()
            for i in range(args.jobs):
                submit(f"scale-{i}", "scale")
            submitted = time.perf_counter() - start
            want = args.jobs * (args.workers + 1)
            peak = rss_before
            while _pods(emu, "scale") < want:
                peak = max(peak, _rss_mib(operator.pid))
                assert time.perf_counter() - start < 900, f"only {_pods(emu, 'scale')} of {want} pods after 900 s"
                time.sleep(0.2)
            wall = time.perf_counter() - start
            peak = max(peak, _rss_mib(operator.pid))
            print(
                f"{args.jobs} jobs x {args.workers} workers: all {want} pods after {wall:.1f} s "
                f"(submission took {submitted:.1f} s); operator RSS {rss_before:.0f} MiB idle, peak {peak:.0f} MiB"
            )
        finally:
            operator.terminate()
            try:
                operator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                operator.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
