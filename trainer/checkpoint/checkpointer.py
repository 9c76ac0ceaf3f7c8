"""The checkpointer the training loop drives: async sharded saves, commit, retention, resume.

Threading model: every save runs in one background thread per process (all
ranks run the same sequence of steps there, in the same order, over a
dedicated gloo process group, so they never interleave with the training
loop's collectives on the default group). At most one save is in flight:
``save()`` first waits for the previous one. Results (success or failure) are
reported on the caller's thread, from ``save()``/``wait()``/``save_now()``:
every result is logged here (once) and passed to ``on_result``; a failed
save is never raised, so training goes on.

Every save ends in exactly one :class:`SaveResult`, whatever it raised: DCP reports a
failed write as ``CheckpointException``, which derives from ``BaseException`` (not
``Exception``), so the save thread catches ``BaseException``. That is safe there:
``KeyboardInterrupt`` is only ever delivered to the main thread, and a ``SystemExit``
raised inside a thread cannot end the process anyway (it would only end the thread,
silently). A save that gives up leaves no torn directory: rank 0 removes it (all
ranks are past DCP's collectives then), and a later commit collects any it could not.

Commit protocol (see ``layout``): DCP writes every rank's shard and then
``.metadata``; rank 0 then writes ``manifest.json``. Only directories holding
both count. Rank 0 decides everything that must be agreed (skip, retry,
commit) and broadcasts it, so ranks cannot diverge.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint._fsspec_filesystem import FsspecReader, FsspecWriter
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.default_planner import DefaultSavePlanner
from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions

from seer.trainer.storage import redact, storage_options_from_env

from .layout import plan_deletions
from .manifest import Manifest
from .policy import should_save
from .retry import RetryPolicy
from .state import TrainingState, current_rank, current_world_size
from .store import CheckpointInfo, CheckpointStore

if TYPE_CHECKING:  # the spec is only a source of values here; the checkpointer works without it
    from seer.platform.spec import CheckpointSpec

__all__ = ["CheckpointConfig", "CheckpointNotSaved", "Checkpointer", "Quarantined", "SaveResult"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# NOTE: DCP warns on every single-process save/load even when ``no_dist=True`` is
# passed explicitly; running without a process group is a supported mode here.
warnings.filterwarnings(
    "ignore", message="torch.distributed is disabled, unavailable or uninitialized", category=UserWarning
)


@dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
    """How to checkpoint. The first five fields come from the job spec's ``checkpoint`` section
    (the spec owns their defaults); the rest are implementation knobs."""

    url: str  # any fsspec URL: /path, file:///path, s3://bucket/prefix, gs://bucket/prefix
    keep_last: int  # complete checkpoints kept (>= 1)
    every_steps: int | None
    every_seconds: float | None
    async_save: bool
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # DCP writer threads (and files) per rank. Object stores are latency-bound per request:
    # bench/checkpoint_io.py measured 64 MB to moto at 0.36x plain s3fs with 1 thread,
    # 0.78x with 4 (reads 0.58x -> 1.44x).
    thread_count: int = 4

    @classmethod
    def from_spec(cls, section: CheckpointSpec, *, url: str) -> CheckpointConfig:
        """The config of a job's ``spec.checkpoint``; ``url`` is passed resolved (a local run
        defaults it to its run directory, see ``seer.trainer.runtime.checkpoint_url``)."""
        return cls(
            url=url,
            keep_last=section.keep_last,
            every_steps=section.interval_steps,
            every_seconds=section.interval_seconds,
            async_save=section.async_save,
        )


@dataclass(frozen=True, kw_only=True)
class SaveResult:
    """The outcome of one save, identical on every rank."""

    step: int
    url: str
    ok: bool
    attempts: int
    duration_s: float  # state capture to commit (or to giving up), retries included
    blocked_s: float  # time the training loop was blocked by this save
    error: str | None = None
    skipped: bool = False  # the step was already committed; nothing written


class CheckpointNotSaved(RuntimeError):
    """The final checkpoint of a run could not be written: the trained state is not durable.

    Raised by the training loop (not the checkpointer, which never raises for storage
    failures) so that a run whose last state was lost never ends as succeeded; the
    worker maps it to the retryable exit code (see docs/checkpoints.md).
    """

    def __init__(self, result: SaveResult) -> None:
        self.result = result
        self.step = result.step
        super().__init__(
            f"final checkpoint at step {result.step} not saved after {result.attempts} attempt(s): "
            f"{result.error} ({result.url}); the newest complete checkpoint is older"
        )


@dataclass(frozen=True, kw_only=True)
class Quarantined:
    """A checkpoint that failed to load and was moved aside (``moved_to`` is ``None`` if it could not be)."""

    step: int
    url: str
    moved_to: str | None
    error: str


@dataclass
class _Capture:
    """What the background job needs to know about the captured state."""

    step: int
    epoch: int
    position: int
    loss: float | None
    spec_hash: str
    unix_time: float
    started: float  # time.monotonic() at capture


class _InFlight:
    """One save running in its own daemon thread (daemon: a stuck store must not block exit).

    Invariant: once the thread has ended, ``result`` is set, even if ``target`` raised
    (then it is a failure carrying the exception's text).
    """

    def __init__(self, step: int, url: str, target: Callable[[threading.Event], SaveResult]) -> None:
        self.step = step
        self.url = url
        self.started = time.monotonic()
        self.blocked_s = 0.0
        self.abandoned = threading.Event()
        self.result: SaveResult | None = None
        self._thread = threading.Thread(target=self._run, args=(target,), name=f"seer-checkpoint-{step}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self, target: Callable[[threading.Event], SaveResult]) -> None:
        try:
            self.result = target(self.abandoned)
        except BaseException as exc:  # noqa: BLE001 - a thread has nobody to raise to (see the module doc)
            log.error("checkpoint step %d: the save thread raised:\n%s", self.step, traceback.format_exc())
            self.result = SaveResult(
                step=self.step,
                url=self.url,
                ok=False,
                attempts=1,
                duration_s=time.monotonic() - self.started,
                blocked_s=0.0,
                error=_describe(exc),
            )

    def join(self, timeout_s: float | None) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()


class _Failed:
    """A rank-0 exception carried through a broadcast as text."""

    def __init__(self, message: str) -> None:
        self.message = message


class _RankZeroFailed(RuntimeError):
    """What every rank raises when ``_from_rank0``'s function raised on rank 0."""


def _is_unreadable(exc: BaseException) -> bool:
    """Whether a failed load means the checkpoint's *data* is bad (so quarantining it is right).

    DCP names the phase that failed: ``plan`` (the checkpoint does not fit this model: a
    missing key, another shape — a changed spec, not a broken checkpoint) or ``read`` (a
    shard could not be read or decoded). Rank 0 failing to read the index (``.metadata``)
    counts as unreadable; anything raised after DCP read everything (restoring the state
    from what was read) means a misfit too.
    """
    if isinstance(exc, CheckpointException):
        return not (exc.args and exc.args[0] == "plan")
    return isinstance(exc, _RankZeroFailed)


def _describe(exc: BaseException) -> str:
    """One line about ``exc``; a ``CheckpointException`` names each failed rank's own error
    (its ``str`` would be every rank's whole traceback)."""
    if isinstance(exc, CheckpointException):
        causes = "; ".join(
            f"rank {rank}: {type(cause).__name__}: {cause}" for rank, (cause, _) in sorted(exc.failures.items())
        )
        text = f"CheckpointException: {causes or (exc.args[0] if exc.args else '')}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= 2000 else text[:2000] + "…"


def _is_process_exit(exc: BaseException) -> bool:
    """Exceptions that mean "this process is stopping" and must propagate, not become a result."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit))


class Checkpointer:
    """Saves and restores a :class:`TrainingState` under ``config.url``.

    Collective: construct it, and call ``save``/``save_now``/``load_latest``/
    ``should_save`` (when time-based), on every rank at the same points. Works
    without a process group (one process) and with any initialised one (the
    checkpointer makes its own gloo group, so NCCL jobs are fine too).
    """

    def __init__(
        self,
        config: CheckpointConfig,
        storage_options: Mapping[str, Any] | None = None,
        *,
        on_result: Callable[[SaveResult], None] | None = None,
        on_quarantine: Callable[[Quarantined], None] | None = None,
    ) -> None:
        """``storage_options`` default to :func:`seer.trainer.storage.storage_options_from_env`;
        ``on_quarantine`` hears (on every rank) of each checkpoint ``load_latest`` set aside."""
        if config.keep_last < 1:
            raise ValueError(f"checkpoint.keep_last must be >= 1, got {config.keep_last}")
        self.config = config
        self._options: dict[str, Any] = dict(
            storage_options_from_env(config.url) if storage_options is None else storage_options
        )
        self.store = CheckpointStore(config.url, self._options)
        self.on_result = on_result
        self.on_quarantine = on_quarantine
        self._inflight: _InFlight | None = None
        self._last_saved_step: int | None = None
        self._last_saved_time: float = time.monotonic()
        self._distributed = dist.is_available() and dist.is_initialized()
        self._world_size = current_world_size()
        self._rank = current_rank()
        # NOTE: a dedicated group: the background save thread runs DCP's collectives
        # on it while the loop runs its own on the default group; sharing one group
        # between two threads would interleave their messages.
        self._group = dist.new_group(backend="gloo") if self._distributed else None
        self._control_group = (
            dist.new_group(backend="gloo")
            if self._distributed and self._world_size > 1 and config.every_seconds is not None
            else None
        )

    def __repr__(self) -> str:
        return (
            f"Checkpointer(url={self.config.url!r}, storage_options={redact(self._options)!r}, "
            f"keep_last={self.config.keep_last}, async_save={self.config.async_save})"
        )

    # ----------------------------------------------------------------- policy
    def should_save(self, step: int) -> bool:
        """Whether a checkpoint is due after ``step`` (see :func:`policy.should_save`).

        When a time interval is set in a multi-rank job, ranks agree (any rank due
        → all due) with one tiny all-reduce on a separate gloo group; step-only
        policies need no communication.
        """
        due = should_save(
            step,
            self._last_saved_step,
            self._last_saved_time,
            time.monotonic(),
            self.config.every_steps,
            self.config.every_seconds,
        )
        if self._control_group is not None:
            flag = torch.tensor([int(due)])
            dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self._control_group)
            due = bool(flag.item())
        return due

    # ------------------------------------------------------------------ saves
    def save(
        self, state: TrainingState, *, loss: float | None = None, blocking: bool | None = None
    ) -> SaveResult | None:
        """Checkpoint ``state`` at ``state.progress.step``.

        First waits for the previous save (at most one in flight) and reports it.
        Async (default: ``config.async_save``): copies the state to CPU memory
        (capturing it as of this call), starts writing in the background and
        returns; training may then mutate the live state. ``blocking=True``
        writes before returning. Never raises for storage failures.

        Returns the result of the save that finished during this call: this one
        when blocking, else the previous async one (``None`` if there was none).
        """
        entered = time.monotonic()
        finished = self.wait()
        blocking = (not self.config.async_save) if blocking is None else blocking
        inflight = self._start(state, loss=loss, stage=not blocking, deadline=None)
        if not blocking:
            inflight.blocked_s = time.monotonic() - entered
            return finished
        inflight.join(None)
        inflight.blocked_s = time.monotonic() - entered
        return self._collect()

    def wait(self, timeout_s: float | None = None) -> SaveResult | None:
        """Wait for the save in flight, report it and return its result.

        ``None`` when nothing was in flight, or when ``timeout_s`` passed first
        (the save then stays in flight).
        """
        if self._inflight is None:
            return None
        if not self._inflight.join(timeout_s):
            return None
        return self._collect()

    def save_now(self, state: TrainingState, *, loss: float | None = None, timeout_s: float) -> SaveResult:
        """A final synchronous save within ``timeout_s`` (SIGTERM / preemption path).

        Waits for a save in flight, then writes the current state, all within the
        budget; retries stop when the budget would be exceeded. On timeout the
        result is a failure and the half-written checkpoint is never committed
        (the loop must exit afterwards: the write may still be running).
        """
        deadline = time.monotonic() + timeout_s
        entered = time.monotonic()
        step = state.progress.step
        if self._inflight is not None:
            previous = self.wait(max(0.0, deadline - time.monotonic()))
            if previous is None:
                result = self._timeout_result(step, entered, "the previous save was still in flight")
                self._report(result)
                return result
            if previous.ok and previous.step == step:
                return previous  # the async save of this very step already committed
        inflight = self._start(state, loss=loss, stage=False, deadline=deadline)
        if not inflight.join(max(0.0, deadline - time.monotonic())):
            inflight.abandoned.set()  # never commit: the live state may change after we return
            result = self._timeout_result(step, entered, "the save did not finish")
            self._report(result)
            return result
        inflight.blocked_s = time.monotonic() - entered
        collected = self._collect()
        assert collected is not None
        return collected

    def close(self) -> SaveResult | None:
        """Wait for the save in flight (call before the process group is destroyed)."""
        return self.wait()

    # ------------------------------------------------------------------ loads
    def latest(self) -> CheckpointInfo | None:
        """The newest complete checkpoint, as rank 0 sees it (collective when distributed)."""
        self.wait()
        return self._from_rank0(self.store.latest_complete)

    def load_latest(self, state: TrainingState) -> CheckpointInfo | None:
        """Restore ``state`` from the newest complete checkpoint that loads (collective).

        ``None`` (state untouched) if there is none. A checkpoint that fails to load on any
        rank (after the retry policy's attempts) is quarantined — moved under
        ``<url>/quarantine/`` by rank 0, reported to ``on_quarantine``, logged with each
        rank's traceback — and the next older one is tried; every rank takes part in each
        decision (an all-reduce), so all load the same checkpoint. Raises when checkpoints
        existed but none loaded (a half-loaded state must not pass for a fresh start), and
        when the store itself is unreachable (then nothing is quarantined).
        """
        self.wait()
        failed: list[int] = []
        while True:
            info = self._from_rank0(lambda: self.store.latest_complete(exclude=failed))  # noqa: B023
            if info is None:
                if failed:
                    raise RuntimeError(
                        f"no checkpoint under {self.config.url} could be loaded (steps {failed} quarantined); "
                        "point checkpoint.url somewhere new to start over"
                    )
                return None
            error = self._try_load(state, info)
            if error is None:
                return info
            failed.append(info.step)
            self._quarantine(info, error)

    def _try_load(self, state: TrainingState, info: CheckpointInfo) -> str | None:
        """Load ``info`` with retries; ``None`` when every rank loaded it, else every rank's error (collective).

        Raises (on every rank, nothing quarantined) when the checkpoint does not fit this job
        (see :func:`_is_unreadable`): setting it aside would only hide it from a fixed spec.
        """
        policy = self.config.retry
        attempt = 0
        while True:
            local: tuple[str, bool] | None = None
            try:
                self.load(state, info)
            except BaseException as exc:  # noqa: BLE001 - DCP's CheckpointException is a BaseException
                if _is_process_exit(exc):
                    raise
                local = (_describe(exc), _is_unreadable(exc))
                log.error(
                    "checkpoint %s failed to load (attempt %d):\n%s", info.url, attempt + 1, traceback.format_exc()
                )
            outcomes = self._gather(local)
            failures = [(rank, outcome) for rank, outcome in enumerate(outcomes) if outcome is not None]
            if not failures:
                return None
            errors = "; ".join(f"rank {rank}: {error}" for rank, (error, _) in failures)
            if not all(unreadable for _, (_, unreadable) in failures):
                raise RuntimeError(
                    f"checkpoint {info.url} does not fit this job (was the spec changed?); "
                    f"it is left in place: {errors}"
                )
            if not policy.should_retry(attempt, None):
                return errors
            time.sleep(policy.backoff_s(attempt))
            attempt += 1

    def _quarantine(self, info: CheckpointInfo, error: str) -> None:
        """Rank 0 moves ``info`` aside, once the store is known to answer (an outage is no reason to)."""

        def move() -> str | None:
            self.store.read_manifest(info.step)  # raises if the store is unreachable: quarantine nothing
            try:
                return self.store.quarantine(info.step)
            except Exception as exc:  # still skipped by this process; a later start tries it again
                log.error("could not quarantine checkpoint %s: %s", info.url, _describe(exc))
                return None

        moved_to = self._from_rank0(move)
        log.error(
            "checkpoint step %d failed to load, quarantined to %s; trying the next older one: %s",
            info.step,
            moved_to,
            error,
        )
        if self.on_quarantine is not None:
            try:
                self.on_quarantine(Quarantined(step=info.step, url=info.url, moved_to=moved_to, error=error))
            except Exception:
                log.exception("checkpoint on_quarantine callback raised")

    def _gather(self, local: T) -> list[T]:
        """Every rank's ``local`` value, in rank order (collective on the checkpointer's own group)."""
        if not self._distributed:
            return [local]
        out: list[Any] = [None] * self._world_size
        dist.all_gather_object(out, local, group=self._group)
        return out

    def load(self, state: TrainingState, info: CheckpointInfo) -> None:
        """Restore ``state`` from ``info`` (collective), resharding to the current world size.

        Model, optimizer, progress and ``extra`` always load. Per-rank state (RNG,
        SwAV queue) loads only when ``info.manifest.world_size`` equals the current
        world size; otherwise it keeps its fresh values and a line is logged.
        """
        self.wait()
        same_world = info.manifest.world_size == self._world_size
        if not same_world:
            log.info(
                "checkpoint %s was written by %d ranks, resuming on %d: per-rank state (RNG, queues) starts fresh",
                info.url,
                info.manifest.world_size,
                self._world_size,
            )
        template = state.state_dict(include_per_rank=same_world)
        if same_world:
            # NOTE: rank 0 reads the index for all: a rank failing here alone would leave the
            # others waiting in DCP's collectives below; _from_rank0 fails every rank alike.
            saved = self._from_rank0(
                lambda: set(FsspecReader(info.url, **self._options).read_metadata().state_dict_metadata)
            )
            _prune_missing(template, state.per_rank_key, saved)
        dcp.load(
            template,
            storage_reader=FsspecReader(info.url, **self._options),
            process_group=self._group,
            no_dist=not self._distributed,
        )
        state.load_state_dict(template)
        if state.spec_hash and state.loaded_spec_hash and state.loaded_spec_hash != state.spec_hash:
            log.warning(
                "checkpoint %s was written by a different spec (%s, now %s)",
                info.url,
                state.loaded_spec_hash,
                state.spec_hash,
            )
        self._last_saved_step = info.step
        self._last_saved_time = time.monotonic()

    # -------------------------------------------------------------- internals
    def _start(self, state: TrainingState, *, loss: float | None, stage: bool, deadline: float | None) -> _InFlight:
        progress = state.progress
        capture = _Capture(
            step=progress.step,
            epoch=progress.epoch,
            position=progress.position,
            loss=None if loss is None else float(loss),
            spec_hash=state.spec_hash,
            unix_time=time.time(),
            started=time.monotonic(),
        )
        state_dict = state.state_dict()
        if stage:
            stager = DefaultStager(StagingOptions(False, False, False, False))
            try:
                state_dict = stager.stage(state_dict)
            finally:
                stager.close()
        self._last_saved_step = capture.step
        self._last_saved_time = capture.started
        inflight = _InFlight(
            capture.step,
            self.store.step_url(capture.step),
            lambda abandoned: self._run_save(state_dict, capture, deadline, abandoned),
        )
        self._inflight = inflight
        inflight.start()
        return inflight

    def _collect(self) -> SaveResult | None:
        inflight, self._inflight = self._inflight, None
        if inflight is None or inflight.result is None:
            return None
        result = dataclasses.replace(inflight.result, blocked_s=inflight.blocked_s)
        self._report(result)
        return result

    def _timeout_result(self, step: int, entered: float, why: str) -> SaveResult:
        elapsed = time.monotonic() - entered
        return SaveResult(
            step=step,
            url=self.store.step_url(step),
            ok=False,
            attempts=0,
            duration_s=elapsed,
            blocked_s=elapsed,
            error=f"TimeoutError: {why} within the time budget ({elapsed:.1f} s)",
        )

    def _report(self, result: SaveResult) -> None:
        """The one place a save's outcome is logged; then ``on_result`` (metrics, events) sees it."""
        if result.ok:
            log.info(
                "checkpoint step %d %s in %.2f s (loop blocked %.3f s, %d attempt(s)): %s",
                result.step,
                "already committed" if result.skipped else "committed",
                result.duration_s,
                result.blocked_s,
                result.attempts,
                result.url,
            )
        else:
            log.error(
                "checkpoint step %d FAILED after %d attempt(s): %s (%s)",
                result.step,
                result.attempts,
                result.error,
                result.url,
            )
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # a faulty callback must not kill training
                log.exception("checkpoint on_result callback raised")

    def _from_rank0(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 and give every rank its value; a rank-0 exception is re-raised on all ranks."""
        value: Any
        if self._rank == 0:
            try:
                value = fn()
            except BaseException as exc:  # noqa: BLE001 - carried to every rank, re-raised there
                if _is_process_exit(exc):
                    raise
                value = _Failed(_describe(exc))
        else:
            value = None
        if self._distributed:
            box = [value]
            dist.broadcast_object_list(box, src=0, group=self._group)
            value = box[0]
        if isinstance(value, _Failed):
            raise _RankZeroFailed(f"rank 0 failed: {value.message}")
        return value

    def _prepare(self, step: int) -> bool:
        """Rank 0, before writing ``step``: False if it is already committed; clears a torn leftover."""
        if self.store.is_complete(step):
            return False
        if self.store.exists(step):
            log.info("removing torn checkpoint %s before rewriting it", self.store.step_url(step))
            self.store.remove(step)
        return True

    def _discard(self, step: int) -> None:
        """Rank 0, after a save of ``step`` gave up: remove what it left (best effort; a later commit
        collects it otherwise). Every rank is past DCP's collectives, so nobody writes there any more."""
        try:
            if not self.store.is_complete(step):  # (an empty directory counts as absent for ``exists``)
                self.store.remove(step)
                log.info("removed what the failed save left at %s", self.store.step_url(step))
        except Exception as exc:
            log.warning("could not remove torn checkpoint %s: %s", self.store.step_url(step), _describe(exc))

    def _commit(self, capture: _Capture, abandoned: threading.Event) -> str | None:
        """Rank 0, after DCP's ``.metadata``: write the manifest (with retries), then collect garbage.

        Returns ``None`` on success or the error text.
        """
        if abandoned.is_set():
            return "TimeoutError: abandoned after the time budget ran out; not committed"
        manifest = Manifest(
            step=capture.step,
            epoch=capture.epoch,
            position=capture.position,
            world_size=self._world_size,
            spec_hash=capture.spec_hash,
            loss=capture.loss,
            unix_time=capture.unix_time,
            time=datetime.fromtimestamp(capture.unix_time, timezone.utc).isoformat(),
            duration_s=round(time.monotonic() - capture.started, 3),
            torch_version=torch.__version__,
        )
        policy = self.config.retry
        for attempt in range(policy.attempts):
            try:
                self.store.write_manifest(capture.step, manifest)
                break
            except Exception as exc:
                if attempt + 1 >= policy.attempts:
                    return f"manifest not written: {_describe(exc)}"
                time.sleep(policy.backoff_s(attempt))
        self._collect_garbage(capture.step)
        return None

    def _collect_garbage(self, committed_step: int) -> None:
        """Rank 0: retention and torn-directory cleanup; failures are logged, never fatal."""
        try:
            doomed = plan_deletions(
                self.store.entries(), keep_last=self.config.keep_last, committed_step=committed_step
            )
            for step in doomed:
                self.store.remove(step)
                log.info("deleted checkpoint %s", self.store.step_url(step))
        except Exception as exc:
            log.warning("checkpoint garbage collection failed (will retry after the next commit): %s", _describe(exc))

    def _run_save(
        self, state_dict: dict[str, Any], capture: _Capture, deadline: float | None, abandoned: threading.Event
    ) -> SaveResult:
        """The background job, run by every rank in lock step. Never raises."""
        url = self.store.step_url(capture.step)
        attempts = 0

        def result(ok: bool, error: str | None = None, skipped: bool = False) -> SaveResult:
            return SaveResult(
                step=capture.step,
                url=url,
                ok=ok,
                attempts=attempts,
                duration_s=time.monotonic() - capture.started,
                blocked_s=0.0,
                error=error,
                skipped=skipped,
            )

        try:
            policy = self.config.retry
            while True:
                attempts += 1
                error: str | None = None
                try:
                    if not self._from_rank0(lambda: self._prepare(capture.step)):
                        return result(True, skipped=True)
                    writer = FsspecWriter(url, thread_count=self.config.thread_count, **self._options)
                    # NOTE: unsharded tensors (BatchNorm buffers under FSDP2 without SyncBN,
                    # everything under DDP) are treated as replicated and stored once; by
                    # default DCP spreads them over ranks, so a checkpoint could mix rank 0's
                    # running_mean with rank 1's running_var. Rank 0 writes them all instead.
                    dcp.save(
                        state_dict,
                        storage_writer=writer,
                        planner=DefaultSavePlanner(dedup_save_to_lowest_rank=True),
                        process_group=self._group,
                        no_dist=not self._distributed,
                    )
                except BaseException as exc:  # noqa: BLE001 - DCP's CheckpointException is a BaseException;
                    # DCP and _from_rank0 raise on every rank alike
                    error = _describe(exc)
                if error is None:
                    break
                log.warning("checkpoint step %d attempt %d failed: %s", capture.step, attempts, error)
                seconds_left = None if deadline is None else deadline - time.monotonic()
                if not self._from_rank0(lambda: policy.should_retry(attempts - 1, seconds_left)):  # noqa: B023 - called within the iteration
                    self._from_rank0(lambda: self._discard(capture.step))
                    return result(False, error)
                time.sleep(policy.backoff_s(attempts - 1))
            commit_error = self._from_rank0(lambda: self._commit(capture, abandoned))
            if commit_error is not None:
                self._from_rank0(lambda: self._discard(capture.step))
            return result(commit_error is None, commit_error)
        except BaseException as exc:  # noqa: BLE001 - see the module doc: a thread must end in a result
            return result(False, _describe(exc))


def _prune_missing(template: dict[str, Any], key: str, saved: set[str]) -> None:
    """Drop entries of ``template[key]`` the checkpoint does not have (e.g. a CUDA RNG state
    saved on a CPU-only run), so an unchanged world size with a different device set still loads."""

    def keep(prefix: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for name in saved)

    def prune(node: dict[str, Any], prefix: str) -> None:
        for name in list(node):
            path = f"{prefix}.{name}"
            if not keep(path):
                del node[name]
            elif isinstance(node[name], dict):
                prune(node[name], path)

    if key in template:
        if keep(key):
            prune(template[key], key)
        else:
            del template[key]
