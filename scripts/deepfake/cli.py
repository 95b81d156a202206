"""``deepfake-predict``: which of the five generators made an image, without Snakemake.

    deepfake-predict IMAGE_OR_FOLDER --model models/laptop [--out predictions.csv]

The same loader, the same unknown-image detector and the same columns as the
workflow's rule ``predict`` (:func:`deepfake.predict.predict_with`): one row per file,
its label (a class, or ``unknown``), the five probabilities, the unknown score, a
warning for a model trained on the synthetic demo data, and the reason where a file
cannot be read. Without ``--out`` the table goes to standard output.

Standard error shows a progress bar over the images and a last line of counts
(``--quiet``: errors only); the libraries' own start-up lines are dropped. The exit
status is 1 when a file could not be read (its row says why), 2 for a wrong command
(one line, before the model loads).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from deepfake import console, layout

DESCRIPTION = (
    "Which of the five generators made an image: one CSV row per file (label, the five "
    "probabilities, unknown score, warning, error), from a trained model's folder."
)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="deepfake-predict", description=DESCRIPTION)
    parse.add_argument("path", help="an image file, or a folder of them")
    parse.add_argument(
        "--model", required=True, help="a trained model's folder, e.g. models/laptop"
    )
    parse.add_argument("--out", help="the CSV to write (default: standard output)")
    parse.add_argument(
        "--threads", type=int, default=2, help="CPU threads to decode and predict (default 2)"
    )
    parse.add_argument(
        "--quiet", action="store_true", help="no progress on standard error, only errors"
    )
    return parse


def refuse(message: str) -> int:
    print(f"deepfake-predict: error: {message}", file=sys.stderr)
    return 2


def checked(args: argparse.Namespace) -> str:
    """Why the command cannot run, found before the model loads ("" if it can)."""
    from deepfake.families import read_card
    from deepfake.predict import files_of

    model = Path(args.model)
    if not (model / layout.CARD).is_file():
        return f"{model}: not a trained model's folder (no {layout.CARD})"
    if not Path(args.path).exists():
        return f"{args.path}: no such file or folder"
    try:
        read_card(model)
        files_of(args.path)
    except (ValueError, OSError) as exc:
        return str(exc)
    return ""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if problem := checked(args):
        return refuse(problem)
    console.quiet_libraries()
    model = Path(args.model)
    detector = model / layout.UNKNOWNS
    from deepfake.predict import counts_line, predict_with

    with tempfile.TemporaryDirectory() as tmp, console.output_to(os.devnull) as terminal:
        handler = logging.StreamHandler(terminal)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logging.basicConfig(
            level=logging.ERROR if args.quiet else logging.INFO, handlers=[handler], force=True
        )
        bar = None if args.quiet else console.ProgressBar(terminal, "images")
        out = Path(args.out) if args.out else Path(tmp) / "predictions.csv"
        try:
            counts = predict_with(
                model,
                str(args.model),
                args.path,
                out,
                detector=detector if detector.is_file() else None,
                threads=args.threads,
                progress=bar.update if bar else None,
            )
        except (ValueError, OSError) as exc:
            print(f"deepfake-predict: error: {exc}", file=terminal)
            return 2
        finally:  # the handler goes with the terminal stream it writes to
            logging.root.removeHandler(handler)
        if not args.quiet:
            print(counts_line(counts), file=terminal)
        elif counts["failed"]:
            print(f"deepfake-predict: {counts_line(counts)}", file=terminal)
        table = None if args.out else out.read_text(encoding="utf-8")
    if table is not None:
        sys.stdout.write(table)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
