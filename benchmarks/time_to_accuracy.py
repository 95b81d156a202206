"""Validation accuracy against training wall time and compute, for CNN variants and models.

    python benchmarks/time_to_accuracy.py train RUN_DIR --variant fast \\
        --configfile config.fast.yaml --out fast.csv [--minutes 30] [--score-every 4]
    python benchmarks/time_to_accuracy.py point RESULTS ensemble/hybrid --out hybrid.csv
    python benchmarks/time_to_accuracy.py plot fast.csv hybrid.csv --out docs/time_to_accuracy.png

Every command writes or reads CSVs with one row per observation: ``seconds`` (training
wall time so far), ``epoch``, ``val_accuracy``, ``image_passes`` (training images seen)
and ``train_pflop`` (the training compute so far: forward and backward passes at the
size each image trained at, as ``train_cnn`` counts them, so runs on different machines
compare).

``train``: the variant's ``train_cnn`` job of the workflow run in RUN_DIR (Snakemake
builds it from the Snakefile with the given ``--configfile`` overlays and ``--config``
values: the run's arrays and histograms, the variant's settings), trained with the
workflow's ``deepfake.train.train_cnn`` plus a callback that scores validation after
every epoch (with the EMA weights where the variant averages them) and writes a row;
``--score-every M`` adds a row inside an epoch each M minutes of training (for slow
models whose epochs are longer than the budget). Scoring time is not counted, and the
scores are only observed: they choose nothing, so a clean-protocol variant stays clean.
``--minutes`` stops once that much training time has passed. Nothing of the run is
written (the checkpoint lives in a temporary folder).

``point``: the one row of a model a workflow run made (RESULTS: its results folder;
MODEL: ``cnn/<variant>``, ``ensemble/<name>``, ...), from its ``metrics.json``:
``train_seconds`` and ``train_pflop`` (an ensemble's: its members' sums).

``plot``: accuracy against minutes and against PFLOP for several CSVs, and the time and
compute at which each first reached :data:`TARGETS`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from harness import add_job_arguments, header, job_config, training_job

TARGETS = (0.90, 0.936)  # 0.936: the reference report's accuracy
COLUMNS = ("seconds", "epoch", "val_accuracy", "image_passes", "train_pflop")


def train(args: argparse.Namespace) -> None:
    """``train``: one variant, validation scored as it trains; rows to ``args.out``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    job = training_job(
        args.run_dir, args.variant, args.configfile, job_config(args.config, args.variant),
        args.threads,
    )  # fmt: skip
    import keras
    import numpy as np
    import pandas as pd

    from deepfake.callbacks import ema_variables, swap_ema
    from deepfake.feeder import predict_proba
    from deepfake.networks import train_flops_per_image

    header(("numpy", "keras", "jax", "tensorflow", "torch"), extra=f"backend {job.backend}")
    settings = job.settings
    val = job.split("val")
    n_train = len(job.split("train")["label"])
    n_freq = val["freq"].shape[1] if "freq" in val else None
    full = train_flops_per_image(settings, n_freq)
    cropped = train_flops_per_image(settings, n_freq, settings.crop) if settings.crop else full
    crop_epochs = settings.epochs - settings.full_size_epochs if settings.crop else 0

    def pflop(epoch: float) -> float:
        early = min(epoch, crop_epochs)
        return n_train * (early * cropped + (epoch - early) * full) / 1e15

    rows = []

    class Observe(keras.callbacks.Callback):
        """Scores validation after every epoch and, with --score-every, also inside one
        once that many minutes of training have passed since the last score."""

        def on_train_begin(self, logs=None):
            self.start, self.scoring, self.last = time.perf_counter(), 0.0, 0.0
            self.epoch, self.steps = 0, self.params.get("steps") or 1

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            every = args.score_every
            if every and self.wall() - self.last >= 60 * every and batch + 1 < self.steps:
                self.score(self.epoch + (batch + 1) / self.steps)

        def on_epoch_end(self, epoch, logs=None):
            self.score(epoch + 1)

        def wall(self) -> float:
            return time.perf_counter() - self.start - self.scoring

        def score(self, epoch: float) -> None:
            t0 = time.perf_counter()
            ema = ema_variables(self.model) is not None
            if ema:
                swap_ema(self.model)
            proba = predict_proba(self.model, val, tta=settings.tta)
            if ema:
                swap_ema(self.model)
            accuracy = float(np.mean(proba.argmax(1) == val["label"]))
            self.scoring += time.perf_counter() - t0
            wall = self.last = self.wall()
            rows.append({
                "seconds": wall, "epoch": round(epoch, 3), "val_accuracy": accuracy,
                "image_passes": round(epoch * n_train), "train_pflop": round(pflop(epoch), 5),
            })  # fmt: skip
            pd.DataFrame(rows, columns=COLUMNS).to_csv(args.out, index=False)
            print(f"epoch {epoch:.2f}: {wall:.0f} s, val_accuracy {accuracy:.4f}", flush=True)
            if args.minutes and wall > 60 * args.minutes:
                self.model.stop_training = True

    args.out.parent.mkdir(parents=True, exist_ok=True)
    job.train(callbacks=[Observe()])


def point(args: argparse.Namespace) -> None:
    """``point``: the row of a model a run made, from its metrics record."""
    import pandas as pd

    from deepfake.layout import METRICS, Layout

    path = Path(Layout(str(args.results)).model_file(args.model, METRICS))
    record = json.loads(path.read_text())
    row = {
        "seconds": record["train_seconds"],
        "epoch": record.get("epochs_run", float("nan")),
        "val_accuracy": record["val_accuracy"],
        "image_passes": record.get("train_image_passes", float("nan")),
        "train_pflop": record["train_pflop"],
    }
    pd.DataFrame([row], columns=COLUMNS).to_csv(args.out, index=False)
    print(row)


def plot(args: argparse.Namespace) -> None:
    """``plot``: accuracy against minutes and PFLOP for several CSVs, to ``args.out``."""
    import pandas as pd

    from deepfake.plots import plt, save

    fig, (by_time, by_compute) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    labels = args.labels or [path.stem for path in args.csvs]
    if len(labels) != len(args.csvs):
        raise SystemExit(f"{len(labels)} --labels for {len(args.csvs)} CSVs")
    for path, label in zip(args.csvs, labels, strict=True):
        run = pd.read_csv(path)
        style = {"marker": "o", "ms": 7} if len(run) == 1 else {"marker": "."}  # a run's end
        line = by_time.plot(run["seconds"] / 60, run["val_accuracy"], label=label, **style)
        by_compute.plot(run["train_pflop"], run["val_accuracy"], label=label,
                        color=line[0].get_color(), **style)  # fmt: skip
        for target in TARGETS:
            hit = run[run["val_accuracy"] >= target]
            when = (
                f"{hit['seconds'].iloc[0] / 60:.1f} min, {hit['train_pflop'].iloc[0]:.3f} PFLOP"
                if len(hit)
                else "not reached"
            )
            print(f"{label}: {target} at {when}")
    for ax in (by_time, by_compute):
        for target in TARGETS:
            ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        ax.set(ylabel="validation accuracy")
    by_time.set(xlabel="training wall time (minutes)", title=args.title)
    by_compute.set(xlabel="training compute (PFLOP)", xscale="log", title="the same, by compute")
    by_compute.legend(fontsize="small")
    save(fig, args.out)


def main() -> None:
    """Command line: see the module's docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a variant, validation scored as it trains")
    add_job_arguments(t)
    t.add_argument("--out", type=Path, required=True, help="the CSV to write")
    t.add_argument("--minutes", type=float, default=None, help="stop after this much training")
    t.add_argument(
        "--score-every",
        type=float,
        default=None,
        metavar="MINUTES",
        help="also score inside an epoch after this many minutes of training",
    )
    o = sub.add_parser("point", help="the row of a model a run made")
    o.add_argument("results", type=Path, help="a run's results folder")
    o.add_argument("model", help="a model: cnn/<variant>, ensemble/<name>, ...")
    o.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("plot", help="draw several CSVs")
    p.add_argument("csvs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--title", default="time to accuracy (dev split)")
    p.add_argument("--labels", nargs="+", help="legend entries, one per CSV (default: file names)")
    args = parser.parse_args()
    {"train": train, "point": point, "plot": plot}[args.command](args)


if __name__ == "__main__":
    main()
