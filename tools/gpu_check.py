"""GPU node check, in one call: full-size synthetic data, baseline training, speed, memory.

    KERAS_BACKEND=jax python tools/gpu_check.py [--epochs 3] [--out /tmp/gpu_check]

Generates a synthetic data set of the competition's size on the spot (12,500
training and 2,500 validation images), ingests it and computes its histograms
with the workflow's own functions, trains the baseline of config.paper.yaml for
a few epochs, and prints training and inference images/s and the GPU's peak
memory. Runs on the JAX, PyTorch or TensorFlow backend (KERAS_BACKEND).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the package
REPO = Path(__file__).resolve().parents[1]


def peak_gpu_bytes(backend: str) -> int | None:
    """Peak device memory the framework allocated, where the backend reports it."""
    if backend == "jax":
        import jax

        stats = jax.local_devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use")
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpus else None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=12_500)
    parser.add_argument("--n-validation", type=int, default=2_500)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--config", type=Path, default=REPO / "config.paper.yaml")
    parser.add_argument("--out", type=Path, default=Path("/tmp/gpu_check"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from deepfake.backend import configure

    backend = configure(threads=os.cpu_count(), deterministic=False)

    import numpy as np

    from deepfake.demo import generate_demo
    from deepfake.features import hsv_histograms
    from deepfake.feeder import predict_proba
    from deepfake.ingest import ingest_split
    from deepfake.settings import TrainSettings
    from deepfake.train import train_cnn

    config = yaml.safe_load(args.config.read_text())
    settings = TrainSettings.from_config(config, "baseline")  # as the workflow merges it
    settings = settings.replace(epochs=args.epochs, mixed_precision=args.mixed_precision)
    if args.batch_size:
        settings = settings.replace(batch_size=args.batch_size)

    start = time.perf_counter()
    data = args.out / "data"
    if not (data / "validation.csv").exists():
        generate_demo(data, args.n_train, args.n_validation, 0, seed=7)
    splits = {}
    for name in ("train", "validation"):
        split = ingest_split(data / f"{name}.csv", data / name, True, threads=os.cpu_count())
        splits[name] = {
            "image": split.images,
            "hist": hsv_histograms(split.images, settings.bins),
            "label": split.labels,
        }
    prepare_s = time.perf_counter() - start

    result = train_cnn(splits["train"], splits["validation"], settings, args.out / "run",
                       args.out / "work")  # fmt: skip
    seconds = result.history["seconds"].to_numpy()
    steady = seconds[1:] if len(seconds) > 1 else seconds  # epoch 1 includes compilation
    n_train = len(splits["train"]["label"])
    predict_proba(result.model.network, splits["validation"])  # compile the predict step
    t0 = time.perf_counter()
    predict_proba(result.model.network, splits["validation"])
    infer_s = time.perf_counter() - t0

    peak = peak_gpu_bytes(backend)
    report = {
        "backend": backend,
        "device": _device_name(backend),
        "n_train": n_train,
        "n_params": result.summary["n_params"],
        "batch_size": settings.batch_size,
        "mixed_precision": args.mixed_precision,
        "prepare_seconds": round(prepare_s, 1),
        "first_epoch_seconds": round(float(seconds[0]), 1),
        "train_images_per_s": round(n_train / float(np.median(steady)), 1),
        "inference_images_per_s": round(len(splits["validation"]["label"]) / infer_s, 1),
        "peak_gpu_memory_mib": round(peak / 2**20, 1) if peak else None,
        "val_accuracy": round(result.summary["val_accuracy"], 4),
        "epochs": len(seconds),
    }
    print(json.dumps(report, indent=2))


def _device_name(backend: str) -> str:
    if backend == "jax":
        import jax

        return str(jax.devices()[0])
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return backend


if __name__ == "__main__":
    main()
