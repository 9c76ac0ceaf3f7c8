"""Seer's TorchX scheduler (`seer`) end to end against the emulator, with the real
operator running: submit (dry run and real), describe, list, logs, cancel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("SEER_OPERATOR_RESYNC_SECONDS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))

import kopf.testing  # noqa: E402
import kube_emulator  # noqa: E402
import yaml  # noqa: E402
from polling import wait_until  # noqa: E402
from torchx.specs import AppDef, AppState, Role  # noqa: E402

from seer.platform.crd import build_crd  # noqa: E402
from seer.platform.kube.scheduler import PHASE_TO_STATE, SeerKubernetesScheduler, create_scheduler, parse_app_id  # noqa: E402
from seer.platform.spec import SeerJob  # noqa: E402

pytestmark = pytest.mark.services


def _app(name: str = "sched") -> AppDef:
    job = SeerJob.model_validate({"metadata": {"name": name}, "spec": {"resources": {"nodes": {"min": 1, "max": 2}}}})
    role = Role(name="worker", image="img", entrypoint="torchrun", env={"SEER_JOB_SPEC": job.to_json(None)})
    return AppDef(name=name, roles=[role])


def _wait(predicate, timeout=30.0):
    return wait_until(predicate, timeout, "the cluster", poll=0.05)


@pytest.fixture
def emulator(tmp_path, monkeypatch):
    with kube_emulator.serve_in_thread([build_crd()]) as emu:
        monkeypatch.setenv("KUBECONFIG", str(emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="team-a")))
        yield emu


def test_dry_run_builds_the_seerjob_in_the_context_namespace(emulator):
    info = create_scheduler("s").submit_dryrun(_app(), {})
    doc = yaml.safe_load(str(info))
    assert doc["kind"] == "SeerJob" and doc["metadata"] == {"name": "sched", "namespace": "team-a", "labels": {}}
    assert doc["spec"]["resources"]["nodes"] == {"min": 1, "max": 2}
    assert emulator.objects("seer.dev", "seerjobs") == []  # a dry run creates nothing


def test_namespace_runopt_wins_over_the_context(emulator):
    info = create_scheduler("s").submit_dryrun(_app(), {"namespace": "other"})
    assert info.request.job.metadata.namespace == "other"


def test_appdef_without_spec_is_rejected_with_a_hint(emulator):
    with pytest.raises(ValueError, match="SEER_JOB_SPEC"):
        create_scheduler("s").submit_dryrun(AppDef(name="x", roles=[Role(name="w", image="i")]), {})


def test_submit_describe_list_logs_cancel_against_the_operator(emulator):
    scheduler: SeerKubernetesScheduler = create_scheduler("s")
    with kopf.testing.KopfRunner(
        ["run", "--all-namespaces", "--standalone", "-m", "seer.operators.handlers"], timeout=30
    ):
        app_id = scheduler.submit(_app(), {})
        assert app_id == "team-a:sched"

        def workers() -> list[dict]:
            pods = emulator.objects("", "pods", "team-a")
            return [p for p in pods if p["metadata"]["labels"]["seer.dev/role"] == "worker"]

        # Both workers (nodes.max = 2): the operator may create them in two reconcile rounds.
        pods = _wait(lambda: found if len(found := workers()) >= 2 else None)
        assert _wait(
            lambda: (scheduler.describe(app_id) or None) and scheduler.describe(app_id).state == AppState.PENDING
        )
        emulator.call(
            lambda: emulator.emulator.logs.__setitem__(
                ("team-a", "sched-worker-0-0"), "step 1 loss 8.0\nstep 2 loss 7.5\n"
            )
        )
        assert list(scheduler.log_iter(app_id, "worker", k=0)) == ["step 1 loss 8.0", "step 2 loss 7.5"]
        assert list(scheduler.log_iter(app_id, "worker", k=0, regex="step 2")) == ["step 2 loss 7.5"]
        assert [r.app_id for r in scheduler.list()] == [app_id]
        described = scheduler.describe(app_id)
        assert described.num_restarts == 0 and len(described.roles_statuses[0].replicas) == len(pods) == 2
        # torchx cancel = seerctl cancel: suspended after a final checkpoint, the SeerJob kept.
        scheduler.cancel(app_id)
        _wait(
            lambda: (
                not [
                    p
                    for p in emulator.objects("", "pods", "team-a")
                    if p["metadata"]["labels"]["seer.dev/role"] == "worker"
                ]
            )
        )
        _wait(lambda: scheduler.describe(app_id).state == AppState.CANCELLED)
        (kept,) = emulator.objects("seer.dev", "seerjobs", "team-a")
        assert kept["spec"]["suspend"] is True


@pytest.mark.parametrize(
    "phase, state",
    [
        ("Pending", AppState.PENDING),
        ("Running", AppState.RUNNING),
        ("Restarting", AppState.RUNNING),
        ("Suspended", AppState.PENDING),
        ("Succeeded", AppState.SUCCEEDED),
        ("Failed", AppState.FAILED),
        ("Cancelling", AppState.RUNNING),
        ("Cancelled", AppState.CANCELLED),
    ],
)
def test_phases_map_to_torchx_states(phase, state):
    assert PHASE_TO_STATE[phase] == state


def test_app_ids_are_namespace_and_name():
    assert parse_app_id("ns:job") == ("ns", "job")
    with pytest.raises(ValueError, match="<namespace>:<name>"):
        parse_app_id("job")
