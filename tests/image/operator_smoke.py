"""Host side of ``scripts/image smoke``'s operator check (run by the host's .venv, not pytest).

Starts the Kubernetes API emulator of ``tests/support`` on 127.0.0.1, writes a kubeconfig
into the scratch directory that the image sees at ``/scratch``, starts the operator *inside
the image* with the command given after ``--`` (the image shares the host's network), submits
a SeerJob, waits until the operator has created the job's worker and rendezvous pods, then
stops the operator with SIGTERM and requires a clean exit. Prints what it verified; exits
non-zero on any failure. The waits only bound a hang: they never decide a pass.

    python tests/image/operator_smoke.py SCRATCH_DIR -- scripts/image _exec ... python -m seer.operators.main
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import kube_emulator  # noqa: E402
import kubernetes  # noqa: E402

from seer.platform.crd import build_crd  # noqa: E402

NS = "default"
JOB = "image-smoke"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what: str, proc: subprocess.Popen, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise SystemExit(f"FAIL: the operator exited with {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"FAIL: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        print(__doc__, file=sys.stderr)
        return 2
    scratch, command = Path(argv[0]), argv[2:]
    metrics, liveness = free_port(), free_port()
    command += ["--metrics-port", str(metrics), "--liveness", f"http://127.0.0.1:{liveness}/healthz"]
    with kube_emulator.serve_in_thread([build_crd()]) as emulator:
        kubeconfig = emulator.write_kubeconfig(scratch / "kubeconfig")
        kubeconfig.chmod(0o644)
        in_image = command[len(command) - command[::-1].index("--") :] if command.count("--") else command
        print(f"emulator: {emulator.url}; operator in the image: {' '.join(in_image)}", flush=True)
        proc = subprocess.Popen(command)
        try:
            wait_for(lambda: http_ok(f"http://127.0.0.1:{liveness}/healthz"), "the liveness endpoint", proc)
            print(f"ok: the operator in the image answers /healthz on 127.0.0.1:{liveness}")
            wait_for(lambda: http_ok(f"http://127.0.0.1:{metrics}/metrics"), "the metrics endpoint", proc)
            print(f"ok: the operator in the image serves Prometheus /metrics on 127.0.0.1:{metrics}")
            api = kubernetes.config.new_client_from_config(str(kubeconfig))
            # As a user writes it: the operator in the image fills in the defaults of its own version.
            doc = {"apiVersion": "seer.dev/v1alpha1", "kind": "SeerJob", "metadata": {"name": JOB, "namespace": NS}}
            doc["spec"] = {}
            kubernetes.client.CustomObjectsApi(api).create_namespaced_custom_object(
                "seer.dev", "v1alpha1", NS, "seerjobs", doc
            )

            def job_pods() -> list[dict]:
                pods = [
                    p
                    for p in emulator.objects("", "pods", NS)
                    if p["metadata"]["labels"].get("seer.dev/job-name") == JOB
                ]
                roles = {p["metadata"]["labels"].get("seer.dev/role") for p in pods}
                return pods if {"worker", "rendezvous"} <= roles else []

            pods = wait_for(job_pods, f"the pods of SeerJob {JOB}", proc)
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
                container = pod["spec"]["containers"][0]
                print(
                    f"ok: the operator created pod {pod['metadata']['name']} "
                    f"(role {pod['metadata']['labels']['seer.dev/role']}, image {container['image']}, "
                    f"command {' '.join(container['command'][:2])} ...)"
                )
            status = wait_for(lambda: emulator_status(emulator), f"the status of SeerJob {JOB}", proc)
            print(f"ok: SeerJob {JOB} status phase {status.get('phase')!r}")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise SystemExit("FAIL: the operator did not stop within 60 s of SIGTERM") from None
        if proc.returncode != 0:
            raise SystemExit(f"FAIL: the operator exited with {proc.returncode} after SIGTERM")
        print("ok: the operator stopped cleanly on SIGTERM (exit 0)")
    return 0


def emulator_status(emulator: kube_emulator.RunningEmulator) -> dict:
    job = next((j for j in emulator.objects("seer.dev", "seerjobs", NS) if j["metadata"]["name"] == JOB), None)
    return (job or {}).get("status") or {}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
