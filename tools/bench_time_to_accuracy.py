"""Validation accuracy against training wall time, for one CNN variant of a config.

    python tools/bench_time_to_accuracy.py train RESULTS CONFIG [CONFIG ...] --variant V \\
        --out runs/fast.csv [--minutes 30]
    python tools/bench_time_to_accuracy.py point RESULTS ensemble/hybrid --out runs/hybrid.csv
    python tools/bench_time_to_accuracy.py plot runs/paper.csv runs/fast.csv --out docs/tta.png

``train`` reads a workflow run's arrays and features (RESULTS is its ``results/``
folder: ``arrays/{train_aug,validation}.npz``, ``features/hsv<bins>/`` and, for a
fingerprint variant, ``features/<fingerprint>/``), merges the CONFIG overlays
over config.yaml as ``--configfile`` does, and trains the variant with the
workflow's own ``train_cnn``. After every epoch a callback scores validation
(with the EMA weights where the variant averages them) and writes a CSV row
(wall seconds of training so far, scoring excluded; epoch; validation accuracy);
``--score-every M`` adds a row inside an epoch each M minutes of training
(fractional epoch), for slow models whose epochs are longer than the budget. Each row
also counts the training compute so far: image passes, and PFLOP (the forward and
backward passes at the size each image trained at, as ``train_cnn`` counts them), so
runs on different machines compare.
The scores are only observed: they pick nothing, so a clean-protocol variant
stays clean. ``--minutes`` stops training once that much training time has passed.
``point`` writes the one row of a model a workflow run trained (a CNN, or an ensemble:
the training time, image passes and PFLOP of its CNN members added up). ``plot`` draws
accuracy against minutes and against PFLOP for several CSVs and prints the time and
compute each first reached 0.90 and 0.936.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

TARGETS = (0.90, 0.936)


def load_settings(configs: list[Path], variant: str):
    import yaml

    from deepfake.config import merge
    from deepfake.settings import TrainSettings

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for path in configs:
        merge(config, yaml.safe_load(path.read_text()))
    return TrainSettings.from_config(config, variant)


def load_split(results: Path, name: str, settings) -> dict:
    import numpy as np

    from deepfake import layout
    from deepfake.io import load_arrays

    arrays = load_arrays(layout.arrays(name, results))
    split = {"image": arrays["images"], "label": arrays["labels"]}
    split["hist"] = np.load(layout.features(f"hsv{settings.bins}", name, results))
    if settings.fingerprint != "none":
        split["freq"] = np.load(layout.features(settings.fingerprint, name, results))
    return split


def train(args) -> None:
    from deepfake.backend import configure

    settings = load_settings(args.configs, args.variant)
    configure(threads=args.threads, deterministic=True, jit_compile=settings.jit_compile)
    import keras
    import numpy as np
    import pandas as pd

    from deepfake.callbacks import ema_variables, swap_ema
    from deepfake.feeder import predict_proba
    from deepfake.networks import train_flops_per_image
    from deepfake.train import train_cnn

    train_split = load_split(args.results, "train_aug", settings)
    val = load_split(args.results, "validation", settings)
    n_train = len(train_split["label"])
    n_freq = train_split["freq"].shape[1] if "freq" in train_split else None
    full = train_flops_per_image(settings, n_freq)
    cropped = train_flops_per_image(settings, n_freq, settings.crop) if settings.crop else full
    crop_epochs = settings.epochs - settings.full_size_epochs if settings.crop else 0

    def pflop(epoch: float) -> float:
        early = min(epoch, crop_epochs)
        return n_train * (early * cropped + (epoch - early) * full) / 1e15

    rows = []

    class Observe(keras.callbacks.Callback):
        """Scores validation after every epoch and, with --score-every, also inside
        one once that many minutes of training have passed since the last score."""

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
            pd.DataFrame(rows).to_csv(args.out, index=False)
            print(f"epoch {epoch:.2f}: {wall:.0f} s, val_accuracy {accuracy:.4f}", flush=True)
            if args.minutes and wall > 60 * args.minutes:
                self.model.stop_training = True

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        train_cnn(train_split, val, settings, None, work, callbacks=[Observe()])


def point(args) -> None:
    import json

    import pandas as pd

    from deepfake import layout

    def metrics(model: str) -> dict:
        return json.loads(Path(layout.model_file(model, layout.METRICS, args.results)).read_text())

    top = metrics(args.model)
    cnns = [m for m in top.get("members", [args.model]) if m.startswith("cnn/")]
    if not cnns:
        raise SystemExit(f"{args.model}: neither a CNN nor an ensemble with CNN members")
    spent = [metrics(m) for m in cnns]
    row = {
        "seconds": sum(m["train_seconds"] for m in spent),
        "epoch": spent[0]["epochs_run"] if len(spent) == 1 else float("nan"),
        "val_accuracy": top["val_accuracy"],
        "image_passes": sum(m["train_image_passes"] for m in spent),
        "train_pflop": sum(m["train_pflop"] for m in spent),
    }
    pd.DataFrame([row]).to_csv(args.out, index=False)
    print(row)


def plot(args) -> None:
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("results", type=Path)
    t.add_argument("configs", type=Path, nargs="+")
    t.add_argument("--variant", required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--minutes", type=float, default=None)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument(
        "--score-every",
        type=float,
        default=None,
        metavar="MINUTES",
        help="also score inside an epoch after this many minutes of training",
    )
    o = sub.add_parser("point")
    o.add_argument("results", type=Path)
    o.add_argument("model", help="a summary row: cnn/<variant> or ensemble/<name>")
    o.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("plot")
    p.add_argument("csvs", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--title", default="time to accuracy (dev split)")
    p.add_argument("--labels", nargs="+", help="legend entries, one per CSV (default: file names)")
    args = parser.parse_args()
    {"train": train, "point": point, "plot": plot}[args.command](args)


if __name__ == "__main__":
    main()
