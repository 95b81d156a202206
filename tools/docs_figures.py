"""Refresh the figures in docs/ from a finished run's results folder.

    python tools/docs_figures.py RESULTS_DIR PREFIX [--title TEXT]

Writes docs/<PREFIX>_curves.png (the workflow's learning-curve figure, every CNN
variant of the run overlaid, from results/cnn/*/history.csv) and copies the
workflow's results/figures/confusion_best.png to docs/<PREFIX>_confusion.png.
For example, after `snakemake --cores all --configfile config.best.yaml
--config data_dir=...`: `python tools/docs_figures.py results best`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

from deepfake.plots import learning_curves, save

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Command line: see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("prefix")
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    histories = {
        path.parent.name: pd.read_csv(path)
        for path in sorted((args.results / "cnn").glob("*/history.csv"))
    }
    if not histories:
        raise SystemExit(f"{args.results}/cnn/*/history.csv: no finished CNN variant")
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    save(learning_curves(histories, args.title or args.prefix), docs / f"{args.prefix}_curves.png")
    shutil.copy(
        args.results / "figures" / "confusion_best.png", docs / f"{args.prefix}_confusion.png"
    )


if __name__ == "__main__":
    main()
