"""Leader election on a ``coordination.k8s.io/v1`` Lease: one active operator, the others stand by.

The standard Kubernetes scheme (client-go's ``leaderelection``, what controller-runtime and the
control plane use), implemented here because kopf has none: kopf's peering pauses operators
with a *lower* priority, but replicas of one Deployment have equal priorities and then all
pause. The operator process calls :func:`acquire` before it starts kopf, then
:meth:`Elector.keep` renews in a thread until the process ends.

Invariants (why at most one operator acts):
- Acquiring and renewing are compare-and-swap writes (``PUT`` carrying the ``resourceVersion``
  read): of two candidates racing for a free or expired lease, the API server accepts one.
- A standby judges expiry on its own clock only: a lease is expired when its record
  (holder, renewTime) has not changed for ``leaseDurationSeconds`` since the standby *saw* it
  change, so clock skew between machines does not matter.
- The leader exits the process (no reconcile can outlive it) when it has not renewed for
  ``renew_deadline`` (< ``lease_duration``) or finds another holder. A standby waits at least
  ``lease_duration`` after the leader's last renewal, so the old leader is gone first.
- Worker pod names are a pure function of (job, slot, restart count): even in a split second of
  overlap, a second create gets 409, never a duplicate pod.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import kubernetes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """client-go's defaults: a standby takes over 15-17 s after the leader stopped renewing."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs retryPeriod < renewDeadline < leaseDuration "
                f"(got {self.retry_period} < {self.renew_deadline} < {self.lease_duration}): "
                "set operator.leaderElection.* accordingly"
            )


def default_identity() -> str:
    """``<pod name>_<random>``: unique per process, so a restarted container is a new candidate."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def may_take(holder: str | None, me: str, unchanged_for: float, lease_duration: float) -> bool:
    """Whether ``me`` may write itself into the lease (pure): it is free, ours, or expired."""
    return not holder or holder == me or unchanged_for >= lease_duration


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Elector:
    """One candidate for the lease ``namespace/name`` (thin I/O around :func:`may_take`)."""

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        timing: Timing = Timing(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = kubernetes.client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity, self.timing, self.clock = namespace, name, identity, timing, clock
        self._seen: tuple[Any, ...] | None = None  # the last (holder, renewTime, transitions) observed
        self._seen_at = 0.0  # local time it last changed
        self.last_renewal: float | None = None  # local time of our last successful write
        self.stopped = threading.Event()  # set by release(): renewing ends

    def try_once(self) -> bool:
        """Read the lease and take or renew it if allowed; True when we hold it now."""
        try:
            lease = self.leases.read_namespaced_lease(self.name, self.namespace)
        except kubernetes.client.ApiException as e:
            if e.status != 404:
                raise
            return self._create()
        spec = lease.spec or kubernetes.client.V1LeaseSpec()
        record = (spec.holder_identity, spec.renew_time, spec.lease_transitions)
        now = self.clock()
        if record != self._seen:
            self._seen, self._seen_at = record, now
        duration = float(spec.lease_duration_seconds or self.timing.lease_duration)
        if not may_take(spec.holder_identity, self.identity, now - self._seen_at, duration):
            return False
        if spec.holder_identity != self.identity:
            spec.acquire_time = _now()
            spec.lease_transitions = (spec.lease_transitions or 0) + 1  # client-go's count: every change of holder
            spec.holder_identity = self.identity
        spec.lease_duration_seconds = int(round(self.timing.lease_duration))
        spec.renew_time = _now()
        lease.spec = spec
        try:
            self.leases.replace_namespaced_lease(self.name, self.namespace, lease)  # carries resourceVersion
        except kubernetes.client.ApiException as e:
            if e.status == 409:  # another candidate wrote first
                return False
            raise
        self.last_renewal = now
        return True

    def _create(self) -> bool:
        now = _now()
        body = kubernetes.client.V1Lease(
            metadata=kubernetes.client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=kubernetes.client.V1LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=int(round(self.timing.lease_duration)),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        try:
            self.leases.create_namespaced_lease(self.namespace, body)
        except kubernetes.client.ApiException as e:
            if e.status == 409:
                return False
            raise
        self.last_renewal = self.clock()
        return True

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until we hold the lease (True), or ``stop`` is set (False)."""
        announced = False
        while stop is None or not stop.is_set():
            try:
                if self.try_once():
                    log.info("leader election: %s now holds lease %s/%s", self.identity, self.namespace, self.name)
                    return True
            except Exception:  # noqa: BLE001 — an API hiccup must not kill a standby
                log.exception("leader election: reading lease %s/%s failed; retrying", self.namespace, self.name)
            if not announced:
                log.info("leader election: standing by (lease %s/%s held by %s)", self.namespace, self.name, self._seen)
                announced = True
            if stop is not None:
                stop.wait(self.timing.retry_period)
            else:
                time.sleep(self.timing.retry_period)
        return False

    def keep(self, on_lost: Callable[[str], None]) -> threading.Thread:
        """Renew every ``retry_period`` in a daemon thread; ``on_lost(reason)`` once the lease is
        lost or not renewed for ``renew_deadline`` (the caller exits the process)."""

        def loop() -> None:
            while not self.stopped.wait(self.timing.retry_period):
                try:
                    if not self.try_once():
                        return on_lost(f"lease {self.namespace}/{self.name} is now held by {self._seen}")
                except Exception:  # noqa: BLE001 — retried until the renew deadline
                    log.exception("leader election: renewing lease %s/%s failed", self.namespace, self.name)
                assert self.last_renewal is not None
                if self.clock() - self.last_renewal > self.timing.renew_deadline:
                    return on_lost(f"lease {self.namespace}/{self.name} not renewed for {self.timing.renew_deadline} s")

        thread = threading.Thread(target=loop, name="leader-election", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """Hand the lease over at once on a clean shutdown (a standby need not wait for expiry)."""
        self.stopped.set()
        try:
            lease = self.leases.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1
            lease.spec.renew_time = _now()
            self.leases.replace_namespaced_lease(self.name, self.namespace, lease)
            log.info("leader election: released lease %s/%s", self.namespace, self.name)
        except Exception:  # noqa: BLE001 — expiry hands it over anyway
            log.exception("leader election: releasing lease %s/%s failed", self.namespace, self.name)
