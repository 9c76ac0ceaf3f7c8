"""``seerctl``: submit and inspect Seer jobs, locally or on Kubernetes.

Human output first (rich), machine output on request (``-o json``). Every expected
failure — a bad job file, an unknown job, a name already taken — prints one clear
message and exits non-zero without a traceback. Exit statuses: 0 ok, 1 the operation
failed (e.g. the job failed under ``--wait``), 2 bad input (job file or usage).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from seer.platform.cli.base import EXIT_BAD_SPEC, EXIT_FAILED, UserError, dump
from seer.platform.loading import SpecError

__all__ = ["EXIT_BAD_SPEC", "EXIT_FAILED", "UserError", "build_parser", "dump", "main"]


def _add_output(p: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json")) -> None:
    p.add_argument(
        "-o",
        "--output",
        choices=choices,
        default=choices[0],
        help=f"output format ({', '.join(choices)}; default {choices[0]})",
    )


def _add_scheduler(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        "-s",
        choices=("local", "kubernetes"),
        default=None,
        help="where the job runs (default: `scheduler` in $SEER_HOME/config.yaml, else local)",
    )
    p.add_argument("--context", default=None, help="kubeconfig context (kubernetes scheduler)")
    p.add_argument(
        "--namespace",
        "-n",
        default=None,
        help="namespace (kubernetes scheduler; default: the job file's or the configured one)",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seer-platform")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seerctl",
        description="Self-supervised vision pretraining (RegNet + SwAV under FSDP2) from one YAML job file.",
        epilog="Start with: seerctl submit examples/quickstart.yaml --wait",
    )
    parser.add_argument("--version", action="version", version=f"seerctl {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "submit",
        help="validate a job file and run it",
        description="Validate a job file and run it on a scheduler (local processes or Kubernetes).",
    )
    p.add_argument("file", help="YAML job file (see examples/quickstart.yaml)")
    _add_scheduler(p)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would run (AppDef / command line, or the SeerJob resource) and exit",
    )
    p.add_argument(
        "-o",
        "--output",
        choices=("text", "yaml", "json"),
        default="text",
        help="format of --dry-run output and of the submit result",
    )
    p.add_argument(
        "--wait", "-w", action="store_true", help="follow the job until it ends, with a live progress display"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue a finished, failed or cancelled job of the same name from its latest checkpoint",
    )
    mode.add_argument(
        "--fresh",
        action="store_true",
        help="start a job whose name exists from scratch (the old local run is archived, not deleted)",
    )

    p = sub.add_parser("validate", help="check a job file and print it with defaults filled in")
    p.add_argument("file", help="YAML job file")
    p.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json", "none"),
        default="none",
        help="print the validated job in this format",
    )

    p = sub.add_parser("status", help="phase, step, last checkpoint and start time of a job")
    p.add_argument("name", help="job name (metadata.name)")
    _add_scheduler(p)
    _add_output(p)

    p = sub.add_parser("list", help="list jobs")
    _add_scheduler(p)
    p.add_argument("--all-namespaces", "-A", action="store_true", help="jobs of every namespace (kubernetes scheduler)")
    _add_output(p)

    p = sub.add_parser("logs", help="print a job's logs")
    p.add_argument("name", help="job name")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    p.add_argument(
        "--rank", type=int, default=None, help="only this worker (local: global rank; kubernetes: worker pod index)"
    )
    p.add_argument(
        "--tail", type=_non_negative, default=None, metavar="N", help="only the last N lines (kubernetes: per pod)"
    )
    p.add_argument(
        "--since", default=None, metavar="DURATION", help="only lines of the last DURATION, e.g. 30s, 10m, 2h, 1d"
    )
    p.add_argument(
        "--timestamps",
        action="store_true",
        help="prefix every line with its time (kubernetes; local log lines always start with theirs)",
    )
    _add_scheduler(p)

    p = sub.add_parser(
        "cancel",
        help="stop a job after a final checkpoint and keep it (status, logs, checkpoints); submit --resume continues",
    )
    p.add_argument("name", help="job name")
    _add_scheduler(p)

    p = sub.add_parser(
        "delete",
        help="forget a stopped job (local: its run directory; kubernetes: the SeerJob); --force also stops it",
    )
    p.add_argument("name", help="job name")
    p.add_argument("--force", action="store_true", help="delete a running job too (local: killed, no final checkpoint)")
    _add_scheduler(p)

    p = sub.add_parser("describe", help="everything known about a job: status, command, recent checkpoints, spec")
    p.add_argument("name", help="job name")
    _add_scheduler(p)
    _add_output(p, ("yaml", "json"))

    p = sub.add_parser("schema", help="print the JSON Schema of a job file")
    p.add_argument("-o", "--output", choices=("json", "yaml"), default="json", help="output format")

    p = sub.add_parser(
        "models",
        help="list RegNet variants with parameters and GFLOPs at 224 px; with --batch, the estimated per-GPU "
        "memory and the parallelism auto would pick",
    )
    p.add_argument("--batch", type=int, default=None, help="per-GPU batch (2x224 + 4x96 crops each) to size for")
    p.add_argument("--gpu-memory", default="141Gi", help="memory of one GPU, e.g. 141Gi (H200), 80Gi (default: 141Gi)")
    p.add_argument("--gpus", type=int, default=1, help="GPUs in the job (default: 1)")
    p.add_argument("--gpus-per-node", type=int, default=None, help="GPUs per node (default: min(--gpus, 8))")
    p.add_argument("--precision", choices=("bf16", "fp16", "fp32"), default="bf16", help="compute precision")
    _add_output(p)

    p = sub.add_parser("data", help="dataset tools (build a dataset's sample index once, next to the data)")
    data_sub = p.add_subparsers(
        dest="data_command", metavar="DATA_COMMAND", required=True, help="what to do with the data (index)"
    )
    q = data_sub.add_parser(
        "index",
        help="build the sample index of a dataset once, next to the data",
        description="Scan the dataset once and write its sample index (a small manifest plus per-sample "
        "offsets) next to the data: every worker of every job then reads the manifest instead of scanning "
        "every shard. Also runnable as a job: python -m seer.trainer.data index URL...",
    )
    q.add_argument("urls", nargs="+", help="the data URLs, exactly as in the job's data.sources")
    q.add_argument("--format", choices=("auto", "images", "webdataset"), default="auto", help="as data.format")
    q.add_argument("--out", default=None, help="index URL (default: <common directory of the URLs>/.seer-index)")
    q.add_argument("--threads", type=int, default=16, help="shards scanned concurrently")

    p = sub.add_parser(
        "completion",
        help="print a shell completion script: source <(seerctl completion bash)",
        description="Print a bash completion script (zsh: run `autoload bashcompinit && bashcompinit` first).",
    )
    p.add_argument("shell", choices=("bash",), help="the shell to complete in")

    p = sub.add_parser("plot", help="draw a job's loss, throughput and checkpoints as a PNG")
    p.add_argument("name", help="job name")
    p.add_argument("file", nargs="?", default=None, help="PNG file to write (default: <name>.png)")
    p.add_argument("--output-file", default=None, help="PNG file to write (the same as FILE)")
    # -o is a format on every verb; `-o FILE.png` (its old meaning) still works, with a note.
    p.add_argument("-o", "--output", default="png", help="image format (png)")
    _add_scheduler(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":  # from the parser itself (commands never import this module)
        from seer.platform.cli.completion import bash_script

        print(bash_script(parser))
        return 0
    from seer.platform.backends.api import JobNotFound, SchedulerUnavailable
    from seer.platform.cli import commands

    handler: Callable[[argparse.Namespace], int] = getattr(commands, f"cmd_{args.command}")
    try:
        return handler(args)
    except SpecError as exc:
        commands.print_error(exc.render())
        return EXIT_BAD_SPEC
    except UserError as exc:
        commands.print_error(str(exc))
        return exc.code
    except (JobNotFound, SchedulerUnavailable) as exc:  # no such job / no usable scheduler: one line, exit 1
        commands.print_error(str(exc))
        return EXIT_FAILED
    except BrokenPipeError:  # `seerctl ... | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        commands.console_err().print("interrupted (the job keeps running; `seerctl status` shows it)")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
