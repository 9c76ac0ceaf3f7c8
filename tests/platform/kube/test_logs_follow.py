"""`seerctl logs -f` on a job with several worker pods follows all of them at once (it used
to follow none: with more than one pod it printed what was there and stopped)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from seer.platform.backends.kube import KubernetesBackend, merge_streams


class TwoPodClient:
    """Two worker pods whose live streams depend on each other: pod 0 writes its second line
    only after pod 1 wrote its first, so only concurrent following gets past pod 0."""

    def __init__(self) -> None:
        self.pod1_spoke = threading.Event()
        self.follow_requests: list[tuple[str, bool]] = []

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": namespace}}

    def worker_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            {"metadata": {"name": f"{name}-worker-{s}-0", "labels": {"seer.dev/worker-slot": str(s)}}} for s in (0, 1)
        ]

    def log_lines(self, namespace: str, pod: str, follow: bool = False, **window: Any) -> Iterator[str]:
        self.follow_requests.append((pod, follow))
        if not follow:
            yield "old line"
            return
        if pod.endswith("-0-0"):
            yield "pod 0 first"
            if not self.pod1_spoke.wait(timeout=60):
                raise AssertionError("pod 1 was never read while pod 0 was followed")
            yield "pod 0 after pod 1"
        else:
            yield "pod 1 first"
            self.pod1_spoke.set()


def test_follow_reads_every_pod_at_once_with_a_prefix_per_pod():
    client = TwoPodClient()
    backend = KubernetesBackend(namespace="ns", client=client)  # type: ignore[arg-type]
    lines = list(backend.logs("job", rank=None, follow=True))
    assert sorted(lines) == [
        "[job-worker-0-0] pod 0 after pod 1",
        "[job-worker-0-0] pod 0 first",
        "[job-worker-1-0] pod 1 first",
    ]
    assert lines.index("[job-worker-1-0] pod 1 first") < lines.index("[job-worker-0-0] pod 0 after pod 1")
    assert sorted(client.follow_requests) == [("job-worker-0-0", True), ("job-worker-1-0", True)]


def test_merge_ends_when_every_stream_ends_even_if_one_fails():
    def failing() -> Iterator[str]:
        yield "x"
        raise OSError("connection reset")

    merged = sorted(merge_streams({"a ": iter(["1", "2"]), "b ": failing()}))
    assert merged == ["a 1", "a 2", "b (log stream ended: OSError: connection reset)", "b x"]


def test_tail_since_and_timestamps_reach_the_api_server_as_its_own_parameters():
    """The API server filters (tailLines, sinceSeconds, timestamps): nothing is fetched to be dropped."""
    from seer.platform.kube.client import KubeClient

    class Core:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def read_namespaced_pod_log(self, pod: str, namespace: str, **kwargs: Any) -> Any:
            self.calls.append(kwargs)

            class Response:
                def stream(self, _size: int) -> Iterator[bytes]:
                    yield b"2026-12-04T10:00:00Z line\n"

            return Response()

    client = KubeClient.__new__(KubeClient)
    client.core = Core()  # type: ignore[assignment]
    backend = KubernetesBackend(namespace="ns", client=client)
    backend._get = lambda name: {}  # type: ignore[method-assign]
    client.worker_pods = lambda ns, name: [{"metadata": {"name": "p", "labels": {}}}]  # type: ignore[method-assign]
    lines = list(backend.logs("job", rank=0, follow=False, tail=5, since_seconds=600, timestamps=True))
    assert lines == ["2026-12-04T10:00:00Z line"]
    (call,) = client.core.calls  # type: ignore[attr-defined]
    assert call["tail_lines"] == 5 and call["since_seconds"] == 600 and call["timestamps"] is True
