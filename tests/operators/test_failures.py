"""Table-driven: which worker stops are retried and which fail the job."""

from __future__ import annotations

import pytest

from seer.operators.failures import classify_pod_failure, failure_time
from seer.platform.spec import RestartReason


def pod(phase="Failed", reason=None, code=None, term_reason="Error", disruption=None):
    status = {"phase": phase, "conditions": []}
    if reason:
        status["reason"] = reason
    if disruption:
        status["conditions"].append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": disruption,
                "lastTransitionTime": "2025-01-01T00:00:10Z",
            }
        )
    if code is not None:
        status["containerStatuses"] = [
            {
                "name": "trainer",
                "state": {
                    "terminated": {"exitCode": code, "reason": term_reason, "finishedAt": "2025-01-01T00:00:05Z"}
                },
            }
        ]
    return {"metadata": {"name": "w"}, "status": status}


@pytest.mark.parametrize(
    "case, retryable, reason, cause",
    [
        (pod(disruption="PreemptionByScheduler", code=1), True, "Preempted", RestartReason.preemption),
        (pod(phase="Running", disruption="EvictionByEvictionAPI"), True, "Evicted", RestartReason.eviction),
        (pod(disruption="DeletionByTaintManager"), True, "NodeLost", RestartReason.node_loss),
        (pod(reason="Evicted"), True, "Evicted", RestartReason.eviction),
        (pod(reason="NodeLost"), True, "NodeLost", RestartReason.node_loss),
        (pod(code=137, term_reason="OOMKilled"), True, "OOMKilled", RestartReason.oom_kill),
        (pod(code=75), True, "Preempted", RestartReason.preemption),
        (pod(code=143), True, "Signaled", RestartReason.signal),
        (pod(code=137), True, "Signaled", RestartReason.signal),
        (pod(code=1), False, "ApplicationError", None),
        (pod(code=127), False, "ApplicationError", None),
        (pod(), True, "NodeLost", RestartReason.node_loss),
    ],
)
def test_failed_pods_are_classified(case, retryable, reason, cause):
    fc = classify_pod_failure(case)
    assert (fc.retryable, fc.reason, fc.cause) == (retryable, reason, cause)
    assert "w" in fc.message


@pytest.mark.parametrize("case", [pod(phase="Running"), pod(phase="Pending"), pod(phase="Succeeded", code=0)])
def test_live_or_successful_pods_are_not_failures(case):
    assert classify_pod_failure(case) is None


def test_failure_time_prefers_the_disruption_then_the_exit():
    assert failure_time(pod(disruption="EvictionByEvictionAPI", code=1)).second == 10
    assert failure_time(pod(code=1)).second == 5
