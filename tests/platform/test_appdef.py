"""SeerJob -> TorchX AppDef: torchrun line, environment, resources; and the entry point."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

from seer.platform.appdef import build_appdef
from seer.platform.spec import SeerJob
from seer.platform.worker import threads_per_proc, worker_env


def job(**spec) -> SeerJob:
    return SeerJob.model_validate({"metadata": {"name": "demo"}, "spec": spec})


def test_local_app_runs_torchrun_standalone_with_our_restart_policy(tmp_path: Path):
    app = build_appdef(job(resources={"procsPerNode": 2}), target="local", run_dir=tmp_path, python="/py")
    role = app.roles[0]
    assert role.entrypoint == "/py"
    assert role.args[:3] == ["-m", "torch.distributed.run", "--standalone"]
    assert role.args[role.args.index("--nproc-per-node") + 1] == "2"
    assert role.args[role.args.index("--max-restarts") + 1] == "0"
    assert role.args[-2:] == ["-m", "seer.trainer"]
    assert role.env["SEER_RUN_DIR"] == str(tmp_path)


def test_the_spec_travels_whole_in_the_environment(tmp_path: Path):
    j = job(data={"batchSize": 7})
    env = build_appdef(j, target="local", run_dir=tmp_path).roles[0].env
    assert SeerJob.model_validate(json.loads(env["SEER_JOB_SPEC"])) == j


def test_kubernetes_app_uses_elastic_c10d_rendezvous_and_the_image():
    j = job(
        resources={
            "nodes": {"min": 2, "max": 4},
            "procsPerNode": 8,
            "gpusPerNode": 8,
            "memory": "64Gi",
            "image": "reg/seer:1",
        }
    )
    role = build_appdef(j, target="kubernetes").roles[0]
    assert role.entrypoint == "torchrun" and role.image == "reg/seer:1"
    assert role.args[role.args.index("--nnodes") + 1] == "2:4"
    assert role.args[role.args.index("--rdzv-backend") + 1] == "c10d"
    assert role.num_replicas == 4 and role.min_replicas == 2
    assert role.resource.gpu == 8 and role.resource.memMB == 64 * 1024


def test_threads_are_split_between_processes():
    assert threads_per_proc(job(resources={"procsPerNode": 2}), cpus=2) == 1
    assert threads_per_proc(job(resources={"procsPerNode": 3}), cpus=2) == 1
    assert threads_per_proc(job(resources={"procsPerNode": 1, "threadsPerProc": 6}), cpus=2) == 6


def test_the_component_is_registered_for_torchx():
    names = {ep.name: ep.value for ep in entry_points(group="torchx.components")}
    assert names.get("seer") == "seer.platform.torchx_components"


def test_the_component_builds_the_same_app_from_a_file(tmp_path: Path):
    from seer.platform.torchx_components import train

    f = tmp_path / "job.yaml"
    f.write_text(job(resources={"procsPerNode": 2}).to_yaml())
    app = train(str(f), run_dir=str(tmp_path / "run"))
    assert app.name == "demo" and "--nproc-per-node" in app.roles[0].args


def test_storage_endpoint_and_region_reach_the_workers_but_no_credentials(tmp_path: Path):
    j = job(storage={"endpointUrl": "http://minio:9000", "region": "eu-west-1", "secretName": "s3-creds"})
    env = build_appdef(j, target="local", run_dir=tmp_path).roles[0].env
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and env["AWS_REGION"] == "eu-west-1"
    assert not any(k in env for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))


def test_torchx_cli_runs_the_component_by_name(tmp_path: Path):
    """`torchx run -s local_cwd seer.train --job_file ...` parses our component's arguments
    (TorchX decodes them from the real annotations) and builds the same torchrun line."""
    import os
    import subprocess
    import sys

    f = tmp_path / "job.yaml"
    f.write_text(job(resources={"procsPerNode": 2}).to_yaml())
    torchx = Path(sys.executable).parent / "torchx"
    out = subprocess.run(
        [str(torchx), "run", "--dryrun", "-s", "local_cwd", "seer.train", "--job_file", str(f)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SEER_HOME": str(tmp_path / "home")},
    )
    assert out.returncode == 0, out.stderr
    assert "torch.distributed.run" in out.stdout + out.stderr and "seer.trainer" in out.stdout + out.stderr


def test_registering_our_scheduler_keeps_the_builtin_ones():
    """torchx 0.7.0 replaces the built-in schedulers when a package registers any."""
    from torchx.schedulers import get_scheduler_factories

    assert {"local_cwd", "kubernetes", "local_docker", "slurm"} <= set(get_scheduler_factories())


def test_kubernetes_threads_follow_the_pod_cpu_request_not_this_machine():
    j = job(resources={"procsPerNode": 4, "cpu": "32"})
    assert build_appdef(j, target="kubernetes").roles[0].env["OMP_NUM_THREADS"] == "8"
    from seer.operators.children import threads_per_process

    assert threads_per_process(j) == 8
    assert threads_per_process(job(resources={"procsPerNode": 2, "cpu": "500m"})) == 1


def test_the_operator_and_torchx_launch_workers_with_one_environment():
    """One worker contract: the AppDef's env and the pod's plain env are both worker_env;
    the pod only adds its own name and the Secret's keys (as references, never values)."""
    from seer.operators.children import worker_pod

    j = job(
        resources={"procsPerNode": 2, "cpu": "8"},
        storage={"endpointUrl": "http://minio:9000", "secretName": "s3-creds"},
        checkpoint={"url": "s3://b/x/"},
    )
    expected = worker_env(j, target="kubernetes", restart_count=3)
    assert build_appdef(j, target="kubernetes", restart_count=3).roles[0].env == expected
    pod_env = worker_pod(j, "uid-1", 0, 3)["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in pod_env if "value" in e} == expected
    references = {e["name"]: e["valueFrom"] for e in pod_env if "valueFrom" in e}
    assert references["SEER_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert references["AWS_ACCESS_KEY_ID"]["secretKeyRef"]["name"] == "s3-creds"
