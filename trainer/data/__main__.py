"""``python -m seer.trainer.data COMMAND``: data tools that need no torch.

* ``digits ROOT [--size N] [--webdataset]``: write the quickstart's data set
  (scikit-learn's digits, no download) as an image folder or WebDataset shards.
* ``index URL... [--format F] [--out INDEX_URL] [--threads N]``: scan the data
  once and write the sample index next to it (``<data>/.seer-index/``), so no
  training process scans shards (``seerctl data index`` runs this).  Credentials
  come from the environment as for training (``AWS_*``, ``GOOGLE_*``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seer.trainer.data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("digits", help="write scikit-learn's digits for the quickstart")
    p.add_argument("root", help="output directory (local path or fsspec URL)")
    p.add_argument("--size", type=int, default=32, help="image side in pixels")
    p.add_argument("--webdataset", action="store_true", help="write WebDataset .tar shards instead of PNG files")
    q = sub.add_parser("index", help="build the sample index of a dataset once, next to the data")
    q.add_argument("urls", nargs="+", help="the data URLs, exactly as in the job's data.sources")
    q.add_argument("--format", choices=("auto", "images", "webdataset"), default="auto", help="as data.format")
    q.add_argument("--out", default=None, help="index URL (default: <common directory of the URLs>/.seer-index)")
    q.add_argument("--threads", type=int, default=16, help="shards scanned concurrently")
    args = parser.parse_args(argv)
    if args.command == "digits":
        from seer.trainer.data.digits import materialize_digits, materialize_digits_webdataset

        fn = materialize_digits_webdataset if args.webdataset else materialize_digits
        print(json.dumps(fn(args.root, size=args.size)))
        return 0
    from seer.trainer.data.dataset_index import build_index
    from seer.trainer.storage import storage_options_from_env

    started = time.monotonic()
    try:
        where, manifest = build_index(
            args.urls,
            storage_options=storage_options_from_env(args.urls[0]),
            format=args.format,
            index_url=args.out,
            threads=args.threads,
        )
    except (OSError, ValueError) as exc:  # missing or unreadable data: one line, no traceback
        print(f"error: cannot index {' '.join(args.urls)}: {exc}", file=sys.stderr)
        return 1
    summary = {
        "index": where,
        "sources": len(manifest.names),
        "samples": manifest.num_samples,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
