"""``deepfake-predict``: which of the five generators made an image, without Snakemake.

    deepfake-predict IMAGE_OR_FOLDER --model models/laptop [--out predictions.csv]

The same loader, the same unknown-image detector and the same columns as the
workflow's rule ``predict`` (:func:`deepfake.predict.predict_with`): one row per file,
its label (a class, or ``unknown``), the five probabilities, the unknown score, a
warning for a model trained on the synthetic demo data, and the reason where a file
cannot be read. Without ``--out`` the table goes to standard output.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from deepfake import layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deepfake-predict", description=__doc__.splitlines()[0].strip("`")
    )
    parser.add_argument("path", help="an image file, or a folder of them")
    parser.add_argument("--model", required=True, help="a trained model's folder")
    parser.add_argument("--out", help="the CSV to write (default: standard output)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.quiet:  # TensorFlow's own C++ messages too
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    model = Path(args.model)
    if not (model / layout.CARD).is_file():
        parser.error(f"{model}: not a trained model's folder (no {layout.CARD})")
    if not Path(args.path).exists():
        parser.error(f"{args.path}: no such file or folder")
    detector = model / layout.UNKNOWNS
    from deepfake.predict import predict_with

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "predictions.csv"
        predict_with(
            model,
            str(args.model),
            args.path,
            out,
            detector=detector if detector.is_file() else None,
            threads=args.threads,
        )
        if not args.out:
            sys.stdout.write(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
