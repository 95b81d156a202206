"""Check a GPU node in one command: the workflow's baseline at the competition's size,
its training and inference speed and the GPU's peak memory.

    KERAS_BACKEND=jax python tools/gpu_check.py [--epochs 3] [--out /tmp/gpu_check]

In the scratch folder ``--out`` (a workflow run of its own), Snakemake generates the
synthetic demo set at the competition's size (12,500 training, 1,250 validation and
``--n-test`` test images) and makes everything rule ``train_cnn`` needs for the
baseline of ``--configfile`` (default ``config.paper.yaml``): ingest, the stored
augmented copies, the histograms (``--omit-from train_cnn``). Then the baseline's
``train_cnn`` job, with ``--epochs`` as its epochs, runs in this process: Snakemake
builds the job from the Snakefile (``deepfake.smk.mock_snakemake``) and
``scripts/train_cnn.py``'s own ``main`` trains it and writes the model folder under
``--out``. Last, the saved network predicts the validation split (timed after a first,
compiling call). Prints, as JSON (also written to ``--out``/gpu_check.json): backend and
device, training images and parameters, first-epoch seconds (compilation included),
training images/s of the later epochs (median; validation scoring included), inference
images/s, the GPU's peak memory, validation accuracy. A second call reuses the data.
Runs on the JAX, PyTorch or TensorFlow backend (``KERAS_BACKEND``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANT = "baseline"


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


def device_name(backend: str) -> str:
    """The first device the backend computes on."""
    if backend == "jax":
        import jax

        return str(jax.devices()[0])
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return gpus[0].name if gpus else "cpu"
    return backend


def run_config(args: argparse.Namespace) -> dict:
    """The ``--config`` values of the check's run: the demo data at the requested size,
    only the baseline trained, its epochs (and batch size, precision) as requested."""
    variant = {"epochs": args.epochs}
    if args.batch_size:
        variant["batch_size"] = args.batch_size
    if args.mixed_precision is not None:
        variant["mixed_precision"] = args.mixed_precision
    return {
        "data_dir": "demo",
        "results_dir": "results",
        "demo": {
            "n_train": args.n_train,
            "n_validation": args.n_validation,
            "n_test": args.n_test,
            "seed": 7,
        },  # fmt: skip
        "cnn": {"train": [VARIANT], "variants": {VARIANT: variant}},
    }


def prepare(out: Path, configfiles: list[Path], config: dict) -> None:
    """Snakemake makes everything the baseline's ``train_cnn`` job reads, in ``out``."""
    from deepfake import layout

    target = layout.Layout(config["results_dir"]).model_file(f"cnn/{VARIANT}", layout.METRICS)
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(out), "--cores", "all", "--quiet", "rules", "--omit-from", "train_cnn",
        "--configfile", *map(str, configfiles),
        "--config", *(f"{key}={json.dumps(value)}" for key, value in config.items()),
        "--", target,
    ]  # fmt: skip
    subprocess.run(command, check=True)


def main() -> None:
    """Command line: see the module's docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=12_500)
    parser.add_argument("--n-validation", type=int, default=1_250)
    parser.add_argument("--n-test", type=int, default=1_250)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    parser.add_argument(
        "--mixed-precision",
        type=lambda v: {"true": True, "false": False}.get(v, v),
        choices=[True, False, "auto"],
        default=None,
        help="true, false or auto (default: the config's)",
    )
    parser.add_argument(
        "--configfile",
        type=Path,
        nargs="+",
        default=[REPO / "config.paper.yaml"],
        help="overlays over config.yaml (default config.paper.yaml)",
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/gpu_check"))
    args = parser.parse_args()

    import runpy

    from deepfake.layout import HISTORY, METRICS, Layout
    from deepfake.smk import mock_snakemake, run

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    configfiles = [REPO / "config.yaml", *(f.resolve() for f in args.configfile)]
    config = run_config(args)
    start = time.perf_counter()
    prepare(out, configfiles, config)
    prepare_s = time.perf_counter() - start

    smk = mock_snakemake(
        "train_cnn",
        workdir=out,
        configfiles=configfiles,
        config=config,
        threads=os.cpu_count(),
        variant=VARIANT,
    )
    script = runpy.run_path(str(REPO / "scripts" / "train_cnn.py"))
    run(script["main"], smk)  # configures the backend, trains, writes the model folder

    import keras
    import numpy as np
    import pandas as pd

    from deepfake.families import load
    from deepfake.feeder import predict_proba

    backend = keras.backend.backend()
    run_dir = Layout(str(out / config["results_dir"]))
    metrics = json.loads(Path(run_dir.model_file(f"cnn/{VARIANT}", METRICS)).read_text())
    seconds = pd.read_csv(run_dir.model_file(f"cnn/{VARIANT}", HISTORY))["seconds"].to_numpy()
    steady = seconds[1:] if len(seconds) > 1 else seconds  # epoch 1 includes compilation
    network = load(run_dir.model_dir(f"cnn/{VARIANT}")).network
    freq = smk.input.val_freq if "val_freq" in smk.input.keys() else None
    val = script["load_split"](smk.input.val, smk.input.val_hist, freq)
    predict_proba(network, val)  # compiles the predict step
    t0 = time.perf_counter()
    predict_proba(network, val)
    infer_s = time.perf_counter() - t0

    peak = peak_gpu_bytes(backend)
    report = {
        "backend": backend,
        "device": device_name(backend),
        "n_train": metrics["n_train"],
        "n_params": metrics["n_params"],
        "batch_size": metrics["params"]["batch_size"],
        "precision": metrics["precision"],
        "prepare_seconds": round(prepare_s, 1),
        "first_epoch_seconds": round(float(seconds[0]), 1),
        "train_images_per_s": round(metrics["n_train"] / float(np.median(steady)), 1),
        "inference_images_per_s": round(len(val["label"]) / infer_s, 1),
        "peak_gpu_memory_mib": round(peak / 2**20, 1) if peak else None,
        "val_accuracy": round(metrics["val_accuracy"], 4),
        "epochs": len(seconds),
    }
    text = json.dumps(report, indent=2)
    (out / "gpu_check.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
