"""Measure the CNN variants of a config on a data folder, outside Snakemake.

    python tools/bench_ablation.py prepare DATA OUT [--config config.paper.yaml]
    python tools/bench_ablation.py train OUT VARIANT [--config ...] [--epochs N]

`prepare` runs the workflow's own ingest, augmentation and histogram functions
once and stores the arrays in OUT; `train` trains one variant on them (so the
variants can run as parallel processes on one GPU) and writes
OUT/<variant>/metrics.json and history.csv. Used for the 5,000-image sample's
figures in docs/results.md, on a GPU node where no Snakemake is installed (JAX only).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the package
REPO = Path(__file__).resolve().parents[1]

from deepfake.settings import TrainSettings  # noqa: E402 (the workflow's own merging)


def prepare(data: Path, out: Path, config: dict) -> None:
    from deepfake.augment import AugmentParams, augment_split
    from deepfake.features import hsv_histograms
    from deepfake.ingest import ingest_split
    from deepfake.io import save_arrays

    bins = sorted({TrainSettings.from_config(config, v).bins for v in config["cnn"]["variants"]})
    threads = os.cpu_count() or 1
    train = ingest_split(data / "train.csv", data / "train", True, threads=threads)
    val = ingest_split(data / "validation.csv", data / "validation", True, threads=threads)
    augmented = augment_split(train.images, train.ids, train.labels,
                              AugmentParams(**config["augment"]))  # fmt: skip
    for name, images, labels in [
        ("train", augmented["images"], augmented["labels"]),
        ("validation", val.images, val.labels),
    ]:
        hists = {f"hist{b}": hsv_histograms(images, b) for b in bins}
        save_arrays(out / f"{name}.npz", image=images, label=labels, **hists)
        logging.info("%s: %d images, bins %s", name, len(images), bins)


def train(out: Path, variant: str, config: dict, epochs: int | None) -> None:
    from deepfake.backend import configure

    configure(threads=None, deterministic=False)
    from deepfake.io import load_arrays, save_json
    from deepfake.train import train_cnn

    settings = TrainSettings.from_config(config, variant)
    settings = settings.replace(epochs=epochs) if epochs else settings
    splits = {}
    for name in ("train", "validation"):
        arrays = load_arrays(out / f"{name}.npz")
        splits[name] = {"image": arrays["image"], "label": arrays["label"],
                        "hist": arrays[f"hist{settings.bins}"]}  # fmt: skip
    result = train_cnn(splits["train"], splits["validation"], settings, out / variant,
                       out / "work" / variant)  # fmt: skip
    save_json(out / variant / "metrics.json", {"variant": variant, **result.summary})
    print(json.dumps({"variant": variant, **result.summary}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "train"])
    parser.add_argument("paths", nargs=2, help="prepare: DATA OUT; train: OUT VARIANT")
    parser.add_argument("--config", type=Path, default=REPO / "config.paper.yaml")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = yaml.safe_load(args.config.read_text())
    if args.step == "prepare":
        prepare(Path(args.paths[0]), Path(args.paths[1]), config)
    else:
        train(Path(args.paths[0]), args.paths[1], config, args.epochs)


if __name__ == "__main__":
    main()
