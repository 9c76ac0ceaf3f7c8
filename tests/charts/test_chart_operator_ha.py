"""The operator can run highly available: replicas > 1 behind a Lease, rolling upgrades, a
PodDisruptionBudget that never blocks a drain (rendered with real Helm)."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest
from seer_chart_support import NAMESPACE, find, one, scenario

from seer.operators.leader import Timing
from seer.operators.main import _parser


def _deployment(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objs, "Deployment")


def _args(objs: list[dict[str, Any]]) -> list[str]:
    return _deployment(objs)["spec"]["template"]["spec"]["containers"][0]["args"]


def test_default_install_elects_a_leader_and_upgrades_without_a_gap(render):
    objs = render({})
    spec = _deployment(objs)["spec"]
    assert spec["replicas"] == 1
    # The new pod waits as a standby until the old one hands the Lease over on SIGTERM.
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    parsed = _parser().parse_args(_args(objs))
    assert parsed.leader_election is True
    assert (parsed.leader_election_namespace, parsed.leader_election_lease) == (NAMESPACE, "seer-operator")
    assert Timing(parsed.lease_duration, parsed.renew_deadline, parsed.retry_period) == Timing()
    env = {e["name"]: e for e in _deployment(objs)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_three_replicas_spread_over_nodes_and_a_drain_may_evict_one_at_a_time(render):
    objs = render(scenario("ha-values"))
    pod = _deployment(objs)["spec"]["template"]["spec"]
    assert _deployment(objs)["spec"]["replicas"] == 3
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= _deployment(objs)["spec"]["template"]["metadata"]["labels"].items()
    )
    pdb = one(objs, "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb


def test_a_pdb_on_one_replica_no_longer_blocks_drains(render):
    pdb = one(render({"operator": {"podDisruptionBudget": {"enabled": True}}}), "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb  # was minAvailable: 1 of 1 pod


def test_min_available_is_kept_when_below_replicas(render):
    values = {"operator": {"replicas": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}}
    pdb = one(render(values), "PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1 and "maxUnavailable" not in pdb


@pytest.mark.parametrize(
    "values,message",
    [
        (
            {"operator": {"podDisruptionBudget": {"enabled": True, "minAvailable": 1}}},
            "must be below operator.replicas",
        ),
        ({"operator": {"leaderElection": {"renewDeadlineSeconds": 20}}}, "renewDeadlineSeconds < leaseDurationSeconds"),
        ({"operator": {"replicas": 2, "leaderElection": {"enabled": False}}}, "leaderElection"),
    ],
    ids=["minAvailable blocks every drain", "renew deadline after lease expiry", "replicas without election"],
)
def test_values_that_would_block_drains_or_run_two_operators_do_not_render(chart, values, message):
    with pytest.raises(helm_python.HelmError, match=message):
        chart.render(values, name="seer", namespace=NAMESPACE, is_install=True)


def test_without_leader_election_one_replica_and_recreate(render):
    objs = render({"operator": {"leaderElection": {"enabled": False}}})
    assert _deployment(objs)["spec"]["strategy"] == {"type": "Recreate"}
    assert not [a for a in _args(objs) if a.startswith("--leader-election")]
    assert not [r for r in find(objs, "Role") if r["metadata"]["name"].endswith("-leader-election")]
