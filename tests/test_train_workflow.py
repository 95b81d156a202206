"""A CNN variant with every training option trains through Snakemake (clean protocol)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run, copy_run_with, load_config, snakemake

pytestmark = pytest.mark.slow

OPTIONS = {
    "schedule": "onecycle",
    "warmup_epochs": 0.5,
    "epochs": 2,
    "label_smoothing": 0.1,
    "mixup_alpha": 0.2,
    "cutmix_alpha": 1.0,
    "mix_prob": 0.5,
    "flip": True,
    "shift": 2,
    "ema": 0.9,
    "tta": ["hflip"],
}


def test_variant_with_every_option_trains_through_snakemake(tiny_run_shared, tmp_path):
    config = load_config("tiny_cnn")
    config["cnn"]["select_on_validation"] = False
    config["cnn"]["variants"] = {"options": OPTIONS}
    workdir = copy_run_with(tiny_run_shared, tmp_path / "wf", config)
    snakemake(workdir, "results/cnn/options/metrics.json")

    folder = workdir / "results" / "cnn" / "options"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["protocol"] == "clean" and metrics["tta"] == ["hflip"]
    assert metrics["params"]["select_on_validation"] is False
    assert metrics["params"]["ema"] == 0.9 and metrics["epochs_run"] == 2
    history = pd.read_csv(folder / "history.csv")
    assert history["val_accuracy"].isna().all()  # validation never read while training
    proba = np.load(folder / "val_proba.npy")
    with np.load(workdir / "results" / "arrays" / "validation.npz") as arrays:
        labels = arrays["labels"]
    assert metrics["val_accuracy"] == pytest.approx(np.mean(proba.argmax(1) == labels))
    np.testing.assert_allclose(np.load(folder / "test_proba.npy").sum(axis=1), 1.0, atol=1e-4)
    assert (folder / "model.keras").stat().st_size > 0 and (folder / "tensorboard").is_dir()
    log = (workdir / "results" / "logs" / "cnn" / "options.log").read_text()
    assert "clean (validation scored once)" in log and "\r" not in log


def test_fast_variant_with_fingerprint_trains_through_snakemake(tiny_run_shared, tmp_path):
    """config.fast.yaml's network architecture, here with the spectrum fingerprint as a third
    input: the rule reads results/descriptors/spectrum/ and the model takes it as "freq"."""
    config = load_config("tiny_cnn")
    config["cnn"]["variants"] = {
        "fast": {"network": "fast", "patch": 4, "filters": [4, 8], "blocks": [1, 1],
                 "fingerprint": ["spectrum"], "schedule": "onecycle", "epochs": 2}
    }  # fmt: skip
    workdir = copy_run_with(tiny_run_shared, tmp_path / "wf", config)
    snakemake(workdir, "results/cnn/fast/metrics.json")

    folder = workdir / "results" / "cnn" / "fast"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["params"]["network"] == "fast" and metrics["epochs_run"] == 2
    assert metrics["inputs"].endswith("+spectrum")
    spectrum = np.load(workdir / "results" / "descriptors" / "spectrum" / "train_aug.npy")
    assert spectrum.shape[0] == metrics["n_train"] and np.isfinite(spectrum).all()
    val_proba = np.load(folder / "val_proba.npy")
    np.testing.assert_allclose(val_proba.sum(axis=1), 1.0, atol=1e-4)

    # predict computes the fingerprint of new images the way the rule computed it
    # for validation: validation images, predicted as new ones, get their probabilities.
    images = workdir / "results" / "demo" / "validation"
    snakemake(workdir, "predict", "--config", f"predict_dir={images}", "predict_model=cnn/fast")
    table = pd.read_csv(workdir / "results" / "predictions.csv").set_index("image_id")
    with np.load(workdir / "results" / "arrays" / "validation.npz") as arrays:
        rows = [f"{i}.png" for i in arrays["ids"]]
    np.testing.assert_allclose(
        table.loc[rows, [f"proba_{c}" for c in range(5)]].to_numpy(float), val_proba, atol=1e-5
    )


def test_the_fast_path_is_chosen_recorded_and_repeatable(tiny_run_shared, tmp_path):
    """mixed_precision and jit_compile auto: the workflow picks this machine's fastest
    exact path from its CPU flags, records the choice and the flags, and a second run of
    the same config gives the same probabilities bit for bit."""
    from deepfake.backend import cpu_flags, fastest_path

    config = load_config("tiny_cnn")
    config["cnn"]["base"] |= {"mixed_precision": "auto", "jit_compile": "auto"}
    config["cnn"]["variants"] = {
        "fast_fp": {"network": "fast", "patch": 4, "filters": [4, 8], "blocks": [1, 1],
                    "fingerprint": ["spectrum", "cooc"], "tta": ["hflip", "rot90"]}
    }  # fmt: skip
    first = copy_run_with(tiny_run_shared, tmp_path / "one", config)
    snakemake(first, "results/cnn/fast_fp/metrics.json")
    again = copy_run(first, tmp_path / "two")  # the same inputs, the network trained again
    snakemake(again, "results/cnn/fast_fp/metrics.json", "--forcerun", "train_cnn")
    runs = [first / "results" / "cnn" / "fast_fp", again / "results" / "cnn" / "fast_fp"]
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    mixed, jit = fastest_path("auto", "auto", cpu_flags(), None, "tensorflow")
    assert metrics["precision"] == ("mixed_bfloat16" if mixed else "float32")
    assert metrics["jit_compile"] is jit
    assert set(metrics["cpu_flags"]) == cpu_flags() & {
        "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile",
    }  # fmt: skip
    for name in ("val_proba.npy", "test_proba.npy"):
        np.testing.assert_array_equal(np.load(runs[0] / name), np.load(runs[1] / name))
