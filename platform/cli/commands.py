"""The verbs of ``seerctl``: thin glue between argparse, a Backend and rich output.

Errors a person can act on are raised as ``UserError`` (or ``SpecError``/``JobNotFound``)
and printed once, by ``seer.platform.cli.main``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seer.platform.backends import Backend, JobStatus, SubmitRefused, get_backend
from seer.platform.cli.base import UserError, dump
from seer.platform.contract import ENV_JOB_SPEC, ENV_RUN_DIR
from seer.platform.loading import load_job
from seer.platform.settings import load_settings
from seer.platform.spec import SeerJob
from seer.platform.urls import redact_strings, redact_urls_in


def no_color() -> bool:
    """https://no-color.org: ``NO_COLOR`` set to anything but "" turns off ALL styling, bold
    included (rich's own ``no_color`` drops colours only)."""
    return bool(os.environ.get("NO_COLOR"))


def console() -> Console:
    # Piped output (scripts, CI logs) gets wide tables instead of rich's 80-column default.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, width=width, color_system=None if no_color() else "auto")


def console_err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False, color_system=None if no_color() else "auto")


def print_error(message: str) -> None:
    console_err().print(f"[bold red]error:[/] {escape(message)}")


def _backend(args: argparse.Namespace, job: SeerJob | None = None) -> Backend:
    try:
        settings = load_settings()
    except ValueError as exc:
        raise UserError(str(exc), code=2) from None
    scheduler = getattr(args, "scheduler", None) or settings.scheduler
    # Like kubectl: -n wins, then the job file's own metadata.namespace (when written
    # there), then the configured one, then the kubeconfig context's.
    explicit = job.metadata.namespace if job is not None and "namespace" in job.metadata.model_fields_set else None
    namespace = getattr(args, "namespace", None) or explicit or settings.namespace
    context = getattr(args, "context", None) or settings.kube_context
    try:
        return get_backend(scheduler, context=context, namespace=namespace)
    except ImportError as exc:
        raise UserError(f"the {scheduler} scheduler is not available: {exc}") from None
    except ValueError as exc:
        raise UserError(str(exc), code=2) from None


TORCHX_MISSING = (
    "the local scheduler runs jobs through TorchX, which is not installed here: "
    "pip install 'seer-platform[torchx]' (or submit to a cluster with -s kubernetes)"
)


def torchx_available() -> bool:
    """Whether TorchX can be imported. It is an extra (``seer-platform[torchx]``): workers and
    the operator never need it, and torchx 0.7.0 pins urllib3<1.27 (docs/architecture.md)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torchx") is not None
    except (ImportError, ValueError):
        return False


def _require_torchx(backend: Backend) -> None:
    """Local runs and local dry runs build a TorchX AppDef; say so in one line, before anything
    is written, instead of a traceback (or a supervisor that dies in the background)."""
    if backend.name == "local" and not torchx_available():
        raise UserError(TORCHX_MISSING)


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "-"
    return format(v, spec) if spec else str(v)


# --------------------------------------------------------------------------- submit


def cmd_submit(args: argparse.Namespace) -> int:
    job = load_job(args.file)  # SpecError -> exit 2, nothing written
    backend = _backend(args, job)
    _require_torchx(backend)
    if args.dry_run:
        return _dry_run(job, backend, args.output)
    try:
        name = backend.submit(job, resume=args.resume, fresh=args.fresh)
    except SubmitRefused as exc:
        raise UserError(str(exc)) from None
    if args.output in ("json", "yaml"):
        print(dump({"name": name, "scheduler": backend.name, "submitted": True}, args.output))
    else:
        console().print(f"submitted [bold]{escape(name)}[/] to the {backend.name} scheduler")
        where = _where(backend, args)
        console().print(escape(f"  follow it:  seerctl status {name}{where}   |   seerctl logs {name} -f{where}"))
    if not args.wait:
        return 0
    return follow(backend, name, quiet=args.output != "text")


def _where(backend: Backend, args: argparse.Namespace) -> str:
    """The options that reach the same job again from a later command (empty for local jobs)."""
    if backend.name != "kubernetes":
        return ""
    context = f" --context {args.context}" if getattr(args, "context", None) else ""
    return f" -s kubernetes -n {backend.namespace}{context}"  # type: ignore[attr-defined]


def _dry_run(job: SeerJob, backend: Backend, output: str) -> int:
    if backend.name == "kubernetes":  # the SeerJob itself: no AppDef, no TorchX
        from seer.platform.kube.resource import custom_resource

        try:  # the real submit's refusals: a dry run never prints what the cluster would not get
            backend.check_submittable(job)  # type: ignore[attr-defined]
        except SubmitRefused as exc:
            raise UserError(str(exc)) from None
        doc = custom_resource(job, backend.namespace)  # type: ignore[attr-defined]
        print(dump(doc, "json" if output == "json" else "yaml"))
        return 0
    from seer.platform.appdef import build_appdef
    from seer.platform.runs import RunDir

    app = build_appdef(job, target="local", run_dir=RunDir.for_job(job.name).path)
    role = app.roles[0]
    env = {key: ("<the job document as JSON>" if key == ENV_JOB_SPEC else value) for key, value in role.env.items()}
    plan = {
        "scheduler": "local_cwd (TorchX)",
        "app": app.name,
        "runDir": env.get(ENV_RUN_DIR),
        "command": [role.entrypoint, *role.args],
        "env": env,
        "resource": {"cpu": role.resource.cpu, "gpu": role.resource.gpu, "memMB": role.resource.memMB},
        "job": job.to_document(),
    }
    if output in ("json", "yaml"):
        print(dump(plan, output))
    else:
        out = console()
        out.print(f"[bold]dry run[/]: would start {escape(app.name)} on this machine (nothing started)")
        out.print("  " + escape(" ".join(plan["command"])))
        for key, value in env.items():
            out.print(f"  {key}={escape(str(value))}")
    return 0


def follow(backend: Backend, name: str, *, quiet: bool = False, poll: float = 1.0) -> int:
    """Follow a job until it ends; a live progress display on a terminal, lines otherwise."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    out = console()
    interactive = out.is_terminal and not quiet
    last_step = None
    status = backend.status(name)
    if interactive:
        progress = Progress(
            TextColumn("[bold]{task.fields[phase]}[/]"),
            BarColumn(),
            TextColumn("step {task.fields[steps]}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[ips]} img/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=out,
            transient=False,
        )
        with progress:
            task = progress.add_task(name, total=None, phase=status.phase, loss="-", ips="-", steps="-")
            while True:
                status = backend.status(name)
                progress.update(
                    task,
                    total=status.total_steps,
                    completed=status.step or 0,
                    phase=status.phase,
                    loss=_fmt(status.loss, ".4f"),
                    ips=_fmt(status.images_per_s, ".1f"),
                    steps=f"{_fmt(status.step)}/{_fmt(status.total_steps)}",
                )
                if status.phase in ("Succeeded", "Failed", "Cancelled"):
                    break
                time.sleep(poll)
    else:
        while True:
            status = backend.status(name)
            if not quiet and status.step is not None and status.step != last_step:
                last_step = status.step
                out.print(
                    f"{name}: {status.phase} step {status.step}/{_fmt(status.total_steps)} "
                    f"loss {_fmt(status.loss, '.4f')} {_fmt(status.images_per_s, '.1f')} img/s "
                    f"restarts {status.restarts}"
                )
            if status.phase in ("Succeeded", "Failed", "Cancelled"):
                break
            time.sleep(poll)
    _print_final(status, backend)
    return 0 if status.phase == "Succeeded" else 1


def _redacted(status: JobStatus) -> JobStatus:
    """``status`` with every URL's credentials redacted: what seerctl prints of a job passes
    through here (or ``redact_strings``), whatever road a credentialed URL took into it."""
    return JobStatus(**redact_strings(status.to_dict()))


def _print_final(status: JobStatus, backend: Backend) -> None:
    status = _redacted(status)
    out = console()
    style = "green" if status.phase == "Succeeded" else "red"
    out.print(
        f"[{style}]{escape(status.name)} {status.phase}[/]"
        + (f": {escape(status.reason)} {escape(status.message)}" if status.phase != "Succeeded" else "")
    )
    out.print(
        f"  step {_fmt(status.step)}  loss {_fmt(status.loss, '.4f')}  {_fmt(status.images_per_s, '.1f')} img/s  "
        f"restarts {status.restarts}  last checkpoint step {_fmt(status.last_checkpoint_step)}"
    )
    evaluation = status.extra.get("eval")
    if evaluation:
        out.print("  " + escape(_eval_line(evaluation)))


def _eval_line(evaluation: dict[str, Any]) -> str:
    parts = []
    for key, label in (("ssl", "SSL"), ("random_init", "random init")):
        if key in evaluation:
            result = evaluation[key]
            parts.append(f"{label}: kNN {result['knn_top1']:.1%} linear {result['linear_top1']:.1%}")
    return "evaluation on held-out labels — " + " | ".join(parts)


# ---------------------------------------------------------------------- inspection


def cmd_status(args: argparse.Namespace) -> int:
    backend = _backend(args)
    status = _redacted(backend.status(args.name))
    if args.output == "json":
        print(json.dumps(status.to_dict(), indent=2, default=str))
        return 0
    table = Table(show_header=False, box=None)
    rows = [
        ("name", status.name),
        ("scheduler", status.scheduler),
        ("phase", status.phase + (f" ({status.reason})" if status.reason else "")),
        ("message", status.message or "-"),
        ("step", f"{_fmt(status.step)} / {_fmt(status.total_steps)}"),
        ("epoch", _fmt(status.epoch)),
        ("loss", _fmt(status.loss, ".4f")),
        ("images/s", _fmt(status.images_per_s, ".1f")),
        ("last checkpoint", f"step {_fmt(status.last_checkpoint_step)} at {_when(status.last_checkpoint_time)}"),
        ("restarts", str(status.restarts)),
        ("started", _when(status.start_time)),
        ("finished", _when(status.completion_time)),
    ]
    if status.nodes_desired is not None:
        rows.insert(3, ("nodes", f"{_fmt(status.nodes_ready)}/{status.nodes_desired}"))
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", escape(str(value)))
    evaluation = status.extra.get("eval")
    if evaluation:
        table.add_row("[bold]evaluation[/]", escape(_eval_line(evaluation)))
    console().print(table)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    backend = _backend(args)
    every = getattr(args, "all_namespaces", False)
    if every and backend.name != "kubernetes":
        raise UserError("-A/--all-namespaces lists every namespace of a cluster: use it with -s kubernetes", code=2)
    jobs = backend.list(all_namespaces=True) if every else backend.list()  # type: ignore[call-arg]
    jobs = [_redacted(job) for job in jobs]
    if args.output == "json":
        print(json.dumps([job.to_dict() for job in jobs], indent=2, default=str))
        return 0
    if not jobs:
        console().print(f"no jobs on the {backend.name} scheduler")
        return 0
    table = Table(
        *(["NAMESPACE"] if every else []), "NAME", "PHASE", "STEP", "LOSS", "RESTARTS", "LAST CKPT", "STARTED"
    )
    for job in jobs:
        table.add_row(
            *([escape(job.namespace or "-")] if every else []),
            escape(job.name),
            job.phase,
            f"{_fmt(job.step)}/{_fmt(job.total_steps)}",
            _fmt(job.loss, ".4f"),
            str(job.restarts),
            _fmt(job.last_checkpoint_step),
            _when(job.start_time),
        )
    console().print(table)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if args.rank is not None and backend.name == "local":
        _check_local_rank(backend, args.name, args.rank)
    for line in _log_lines(backend, args):
        sys.stdout.write(redact_urls_in(line) + "\n")
        sys.stdout.flush()
    return 0


def _check_local_rank(backend: Backend, name: str, rank: int) -> None:
    """A local job has ranks 0..procsPerNode-1 (one node, standalone): any other rank is an
    error, not an empty log (a rank that exists but has not logged yet stays silent)."""
    run = backend.run_dir(name)  # type: ignore[attr-defined]
    if not run.job_file.exists():
        return  # unknown job: backend.logs says so, with the jobs that exist
    world = load_job(run.job_file).spec.resources.procs_per_node
    if not 0 <= rank < world:
        raise UserError(f"job {name!r} has {world} rank(s), 0 to {world - 1}: there is no --rank {rank}")


def _log_lines(backend: Backend, args: argparse.Namespace) -> Iterable[str]:
    """The lines ``logs`` prints: everything, or only those of the last ``--since`` and/or the
    last ``--tail N``, then with ``-f`` what follows. On Kubernetes the API server does both
    (``sinceSeconds``, ``tailLines`` per pod); locally they are picked from the files here."""
    from seer.platform.cli.log_window import lines_since, parse_duration

    try:
        since = parse_duration(args.since) if args.since else None
    except ValueError as exc:
        raise UserError(f"--since: {exc}", code=2) from None
    if backend.name == "kubernetes":
        return backend.logs(  # type: ignore[call-arg]
            args.name,
            rank=args.rank,
            follow=args.follow,
            tail=args.tail,
            since_seconds=since,
            timestamps=args.timestamps,
        )
    cutoff = datetime.now() - timedelta(seconds=since) if since is not None else None  # naive local, like asctime

    def local(follow: bool) -> Iterable[str]:
        lines = backend.logs(args.name, rank=args.rank, follow=follow)
        return lines if cutoff is None else lines_since(lines, cutoff)

    if args.tail is None:
        return local(args.follow)
    so_far = list(local(False))
    last = so_far[-args.tail :] if args.tail else []
    if not args.follow:
        return last
    # Files only grow: a following pass reads the same lines first, then the new ones.
    return itertools.chain(last, itertools.islice(local(True), len(so_far), None))


def cmd_cancel(args: argparse.Namespace) -> int:
    backend = _backend(args)
    console().print(escape(backend.cancel(args.name)))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Forget a job: locally its run directory, on Kubernetes the SeerJob (``cancel`` keeps them)."""
    from seer.platform.backends.api import JobRunning

    backend = _backend(args)
    try:
        if backend.name == "local":
            from seer.platform.backends.local_delete import delete_local_run

            backend.status(args.name)  # JobNotFound, with the local jobs, for an unknown name
            message = delete_local_run(backend.run_dir(args.name), force=args.force)  # type: ignore[attr-defined]
        else:
            message = backend.delete(args.name, force=args.force)  # type: ignore[attr-defined]
    except JobRunning as exc:
        raise UserError(str(exc)) from None
    console().print(escape(message))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    backend = _backend(args)
    described = backend.describe(args.name)
    if isinstance(described.get("status"), dict):  # JobStatus fields are snake_case in Python
        described["status"] = {camel_case(key): value for key, value in described["status"].items()}
    print(dump(redact_strings(described), args.output))
    return 0


def camel_case(name: str) -> str:
    """``last_checkpoint_step`` -> ``lastCheckpointStep``: ``describe`` speaks the job file's
    (and the SeerJob resource's) camelCase in every key it prints."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


# ----------------------------------------------------------------------- reference


def cmd_validate(args: argparse.Namespace) -> int:
    job = load_job(args.file)
    if args.output == "none":
        console().print(f"{escape(args.file)}: valid SeerJob [bold]{escape(job.name)}[/]")
    else:
        print(dump(job.to_document(), args.output))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    schema = SeerJob.model_json_schema(by_alias=True)
    print(dump(schema, args.output))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """``seerctl data index``: runs the trainer's indexer in a child process.

    NOTE: a child process, not an import: the platform never imports the trainer (the
    layering in docs/architecture.md), and the indexer needs the trainer's data package
    (fsspec and the tar scanner, no torch) exactly as a worker reads the index back.
    """
    import subprocess

    command = [sys.executable, "-m", "seer.trainer.data", args.data_command, *args.urls, "--format", args.format]
    if args.out:
        command += ["--out", args.out]
    command += ["--threads", str(args.threads)]
    return subprocess.call(command)


def cmd_models(args: argparse.Namespace) -> int:
    """The variant table; with ``--batch`` also the memory estimate and the auto plan (torch-free)."""
    from seer.platform.models import describe_variants
    from seer.platform.models.memory import GIB, estimate_memory, parse_bytes
    from seer.platform.models.parallelism import choose
    from seer.platform.variants import VARIANTS

    rows = describe_variants()
    sizing = getattr(args, "batch", None) is not None
    if sizing:
        if args.batch <= 0 or args.gpus <= 0:
            raise UserError(f"--batch ({args.batch}) and --gpus ({args.gpus}) must be positive", code=2)
        try:
            device_bytes = parse_bytes(args.gpu_memory)
        except ValueError as exc:
            raise UserError(f"--gpu-memory: {exc}", code=2) from None
        per_node = args.gpus_per_node or min(args.gpus, 8)
        if args.gpus % per_node:
            raise UserError(f"--gpus {args.gpus} is not a multiple of --gpus-per-node {per_node}", code=2)
        for r in rows:
            est = estimate_memory(VARIANTS[r["name"]].design, batch=args.batch, precision=args.precision)
            plan = choose("auto", estimate=est, device_bytes=device_bytes, world=args.gpus, ranks_per_node=per_node)
            r["batch"] = args.batch
            r["replicated_gib"] = round(est.total(shards=1, activation_checkpointing=False) / GIB, 1)
            r["estimated_gib"] = round((plan.estimated_bytes or 0) / GIB, 1)
            r["parallelism"] = plan.kind
            r["activation_checkpointing"] = plan.activation_checkpointing
            r["reason"] = plan.reason
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        return 0
    columns = ["VARIANT", "PARAMS (M, fc)", "GFLOPs @224", "STAGE WIDTHS", "DEPTHS", "GROUP W"]
    columns += ["GiB/GPU REPLICATED", "GiB/GPU CHOSEN", "AUTO PICKS", "ACT. CKPT"] if sizing else ["SOURCE"]
    t = Table(*columns)
    for r in rows:
        cells = [
            r["name"],
            f"{r['params_m']:.2f}",
            f"{r['gflops']:.2f}",
            str(r["stage_widths"]),
            str(r["stage_depths"]),
            str(r["group_width"]),
        ]
        if sizing:
            cells += [
                f"{r['replicated_gib']:.1f}",
                f"{r['estimated_gib']:.1f}",
                r["parallelism"] + (" (won't fit)" if "WARNING" in r["reason"] else ""),
                "on" if r["activation_checkpointing"] else "off",
            ]
        else:
            cells.append(r["source"])
        t.add_row(*cells)
    console().print(t)
    if sizing:
        console().print(
            f"per-GPU batch {args.batch} (2x224 + 4x96 crops), {args.gpus} GPU(s) of {args.gpu_memory}, "
            f"{args.precision}; estimates, see docs/parallelism.md"
        )
    return 0


def _plot_file(args: argparse.Namespace) -> str:
    """Where ``plot`` writes: FILE or --output-file; ``-o`` is the format, as on every verb.
    ``-o FILE.png``, the option's meaning before, is read as the file, with a note."""
    output = args.output
    if output != "png" and output.lower().endswith(".png"):
        console_err().print(f"note: `-o FILE` is now `seerctl plot {args.name} FILE` (-o is the format, png)")
        if args.file or args.output_file:
            raise UserError("give the file once: FILE or --output-file", code=2)
        return output
    if output != "png":
        raise UserError(f"-o/--output is the image format: png, not {output!r}", code=2)
    if args.file and args.output_file:
        raise UserError("give the file once: FILE or --output-file", code=2)
    return args.file or args.output_file or f"{args.name}.png"


def cmd_plot(args: argparse.Namespace) -> int:
    from seer.platform.plot import plot_run

    backend = _backend(args)
    events = getattr(backend, "events", None)
    if events is None:
        raise UserError(f"the {backend.name} scheduler does not keep progress events; use Grafana (docs/monitoring.md)")
    evs = list(events(args.name))
    steps = [e for e in evs if e.get("type") == "step"]
    if not steps:
        raise UserError(f"job {args.name!r} has not logged a step yet; nothing to plot")
    ckpts = [e for e in evs if e.get("type") == "checkpoint"]
    out = _plot_file(args)
    plot_run(steps, ckpts, out)
    console().print(f"wrote {escape(out)}")
    return 0
