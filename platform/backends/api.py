"""What ``seerctl`` asks of a scheduler: the `Backend` protocol, `JobStatus` and the errors.

Dependency-free (no kubernetes, no torchx): ``seerctl`` verbs talk to a `Backend`,
``LocalBackend`` (``.local``) reads and signals run directories and
``KubernetesBackend`` (``.kube``) talks to the API server. Both return the same
`JobStatus`, so human and JSON output look alike whatever runs the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from seer.platform.spec import SeerJob


class SubmitRefused(Exception):
    """The job cannot be submitted as it is; the message says what to change."""


class JobExists(SubmitRefused):
    """Submitting a name that is taken (running, or finished without --resume/--fresh)."""


class SchedulerUnavailable(Exception):
    """The scheduler cannot be reached or is not configured (e.g. no kubeconfig); the
    message says how to configure it."""


class JobNotFound(Exception):
    """No job of that name on the scheduler; the message lists what exists where it can."""


class JobRunning(Exception):
    """The operation needs a stopped job (e.g. ``delete`` without ``--force``); the message says how."""


@dataclass
class JobStatus:
    name: str
    scheduler: str
    phase: str
    reason: str = ""
    message: str = ""
    step: int | None = None
    total_steps: int | None = None
    epoch: int | None = None
    loss: float | None = None
    images_per_s: float | None = None
    last_checkpoint_step: int | None = None
    last_checkpoint_time: float | None = None
    start_time: float | None = None
    completion_time: float | None = None
    restarts: int = 0
    nodes_ready: int | None = None
    nodes_desired: int | None = None
    namespace: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(Protocol):
    name: str

    def submit(self, job: SeerJob, *, resume: bool = False, fresh: bool = False) -> str: ...
    def status(self, name: str) -> JobStatus: ...
    def list(self) -> list[JobStatus]: ...
    def cancel(self, name: str) -> str:
        """Stop the job after a final checkpoint and keep its record (status, checkpoints, logs):
        ``submit --resume`` continues it. Everywhere the same meaning; ``delete`` forgets it."""
        ...

    def logs(self, name: str, *, rank: int | None, follow: bool) -> Iterator[str]: ...
    def describe(self, name: str) -> dict[str, Any]: ...
