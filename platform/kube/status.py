"""The SeerJob ``status``: written by the operator, read by ``seerctl`` and TorchX.

Lives in ``seer.platform`` because three parties share it: the CRD generator (its
schema), the operator (writes it) and the scheduler (maps ``phase`` to a TorchX
state). Like the spec, documents use camelCase keys.

Invariants:
- ``phase`` only moves out of ``Succeeded``/``Failed`` never (terminal phases).
- ``restarts`` only grows; each failure event counts one restart (workers lost within
  30 s of each other count once: ``seer.operators.planning``), and so does a regroup.
- Timestamps are RFC 3339 strings in UTC (``2025-01-31T12:00:00Z``), as Kubernetes writes them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Phase(str, Enum):
    """Where a job is in its life. Succeeded and Failed are terminal."""

    pending = "Pending"
    running = "Running"
    restarting = "Restarting"
    succeeded = "Succeeded"
    failed = "Failed"
    suspended = "Suspended"

    @property
    def terminal(self) -> bool:
        return self in (Phase.succeeded, Phase.failed)


class _Doc(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", use_enum_values=False)


class Condition(_Doc):
    """One observation about the job, Kubernetes-style (one entry per ``type``)."""

    type: str = Field(
        description="Condition type: one per phase (Running, Restarting, Suspended, Succeeded, Failed), and "
        "RendezvousReady, WorkersBlocked, SpecChangeRefused (docs/operator.md, Status)."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="Whether the condition holds.")
    reason: str = Field(
        default="",
        description="One CamelCase word saying why (e.g. WorkerEvicted, ApplicationError, RestartBudgetSpent).",
    )
    message: str = Field(default="", description="What happened, for people.")
    last_transition_time: str | None = Field(default=None, description="When `status` last changed (RFC 3339).")


class SeerJobStatus(_Doc):
    """What the operator observed and decided; the CRD's ``status`` subresource."""

    phase: Phase = Field(
        default=Phase.pending, description="Pending, Running, Restarting, Succeeded, Failed or Suspended."
    )
    conditions: list[Condition] = Field(default_factory=list, description="Latest observations, one per type.")
    observed_generation: int | None = Field(default=None, description="The `metadata.generation` this status reflects.")
    nodes_ready: int = Field(default=0, description="Worker pods running and ready.", ge=0)
    nodes_desired: int = Field(
        default=0, description="Worker pods wanted (`resources.nodes.max`; 0 while suspended or finished).", ge=0
    )
    restarts: int = Field(
        default=0,
        description=(
            "Restarts after retryable failures, one per failure event: workers lost within 30 s of each other "
            "count once (counts against `restart.maxRestarts`)."
        ),
        ge=0,
    )
    last_checkpoint_step: int | None = Field(
        default=None, description="Step of the last committed checkpoint, as reported by the trainer."
    )
    last_checkpoint_time: str | None = Field(
        default=None, description="When the last checkpoint was committed (RFC 3339)."
    )
    step: int | None = Field(default=None, description="Current training step, as reported by the trainer.")
    start_time: str | None = Field(
        default=None, description="When the job first ran with at least `nodes.min` ready workers (RFC 3339)."
    )
    completion_time: str | None = Field(default=None, description="When the job succeeded or failed (RFC 3339).")

    @classmethod
    def from_document(cls, doc: dict[str, Any] | None) -> "SeerJobStatus":
        """Parse a stored status; unknown keys (e.g. written by a newer operator) are ignored."""
        return cls.model_validate(doc or {})

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp spelling: second precision, UTC, trailing Z."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
