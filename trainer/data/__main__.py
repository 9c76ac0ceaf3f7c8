"""``python -m seer.trainer.data digits ROOT [--size N] [--webdataset]``: write the
quickstart's data set (scikit-learn's digits, no download) as an image folder or as
WebDataset shards."""

from __future__ import annotations

import argparse
import json

from seer.trainer.data.digits import materialize_digits, materialize_digits_webdataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seer.trainer.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("digits", help="write scikit-learn's digits for the quickstart")
    p.add_argument("root", help="output directory (local path or fsspec URL)")
    p.add_argument("--size", type=int, default=32, help="image side in pixels")
    p.add_argument("--webdataset", action="store_true", help="write WebDataset .tar shards instead of PNG files")
    args = parser.parse_args(argv)
    fn = materialize_digits_webdataset if args.webdataset else materialize_digits
    print(json.dumps(fn(args.root, size=args.size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
