"""Every model kind the workflow offers attributes new images through rule predict.

A tiny run trains each descriptor's KNN (both votings among them), raw pixels, the
combination, the gradient-boosted model, each CNN architecture, a CNN with the fingerprint
input, one with test-time augmentation, one trained on random crops, and an ensemble
with a KNN and a gbm member. Then,
for every row of its summary, ``snakemake predict`` on the validation folder (the
validation images as new images) gives back that model's ``val_proba.npy``: KNN and
gbm bit for bit, CNN and ensemble within 1e-5.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, load_config, planned_rules, snakemake

from deepfake import layout
from deepfake.families import FAMILIES
from deepfake.metrics import COMMON_KEYS

pytestmark = pytest.mark.slow

TINY = {"hist_units": 8, "dense_units": 16, "epochs": 1, "batch_size": 32}
VARIANTS = {
    "paper": {"network": "paper", "filters": [4, 4, 8, 8, 8]},
    "resnet": {"network": "resnet", "filters": [4, 8], "blocks": [1, 0]},
    "fast": {"network": "fast", "patch": 4, "filters": [4, 8], "blocks": [1, 1]},
    "fast_fp": {
        "network": "fast",
        "patch": 4,
        "filters": [4, 8],
        "fingerprint": ["spectrum", "cooc"],
    },
    "fast_tta": {"network": "fast", "patch": 4, "filters": [4, 8], "tta": ["hflip", "vflip"]},
    "fast_crop": {"network": "fast", "patch": 4, "filters": [4, 8], "crop": 48, "precise_bn": 64},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = load_config("tiny")
    config["knn"] = {
        "k": [1, 3, 5],
        "weights": ["uniform", "distance"],
        "descriptors": ["hsv", "pixels", "jointhsv", "spectrum", "lbp", "combo"],
        "combination": {"groups": ["hsv", "spectrum", "lbp"], "group_weights": [0, 1]},
    }
    config["gbm"] = {"descriptors": ["hsv", "cooc"], "max_iter": 10}
    config["cnn"]["select_on_validation"] = False
    config["cnn"]["base"] |= TINY
    config["cnn"]["variants"] = VARIANTS
    config["ensemble"] = {
        "name": "mixed",
        "members": ["cnn/paper", "knn/combo", "gbm/fingerprints"],
        "combine": "geometric",
    }
    # every model's temperature is fitted on held-out training images
    config["calibration"] = {"holdout": 0.2, "seed": 1}
    workdir = copy_workflow(tmp_path_factory.mktemp("predict_all"), config)
    snakemake(workdir)
    return workdir


def summary_rows(run) -> list[str]:
    return pd.read_csv(run / "results" / "metrics" / "summary.csv")["model"].tolist()


def test_the_run_offers_every_model_kind(run):
    rows = summary_rows(run)
    expected = {f"knn/{f}" for f in ("hsv16", "pixels", "jointhsv", "spectrum", "lbp", "combo")}
    expected |= {f"cnn/{v}" for v in VARIANTS} | {"gbm/fingerprints", "ensemble/mixed"}
    assert set(rows) == expected
    # every family of the registry is here, with the same metrics keys, and a card
    assert {layout.family(m) for m in rows} == set(FAMILIES)
    for model in rows:
        record = json.loads((run / "results" / model / "metrics.json").read_text())
        assert set(COMMON_KEYS) <= set(record), model
        assert record["calibration"]["fitted_on"] == "20 held-out training images", model
        card = json.loads((run / "results" / model / "model.json").read_text())
        assert card["family"] == layout.family(model) and card["data"]["demo"] is True
        assert card["temperature"] == record["calibration"]["temperature"]
        assert (run / "results" / "report" / "cards" / layout.card_name(model)).is_file()
    votings = {
        json.loads((run / "results" / m / "model.json").read_text())["voting"]
        for m in rows
        if m.startswith("knn/")
    }
    assert votings == {"uniform", "distance"}
    card = json.loads((run / "results" / "cnn" / "fast_fp" / "model.json").read_text())
    assert card["fingerprint"] == ["spectrum", "cooc"]


def test_predict_gives_back_every_models_validation_probabilities(run):
    folder = run / "results" / "demo" / "validation"
    with np.load(run / "results" / "arrays" / "validation.npz") as arrays:
        names = [f"{i}.png" for i in arrays["ids"]]
    probas = [f"proba_{c}" for c in range(5)]
    largest = {}
    for model in summary_rows(run):
        needed = planned_rules(run, "--config", f"predict_dir={folder}", f"predict_model={model}",
                               "--", "predict")  # fmt: skip
        assert needed == {"predict": 1}, model  # nothing retrains
        snakemake(run, "predict", "--config", f"predict_dir={folder}", f"predict_model={model}")
        table = pd.read_csv(run / "results" / "predictions.csv", dtype={"image_id": str})
        table = table.set_index("image_id").loc[names]
        assert table["model"].eq(model).all()
        got = table[probas].to_numpy(np.float32)
        expected = np.load(run / "results" / model / "val_proba.npy")
        if model.startswith(("knn/", "gbm/")):
            np.testing.assert_array_equal(got, expected, err_msg=model)
        else:
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=model)
        largest[model] = float(np.abs(got - expected).max())
    print("largest differences:", json.dumps(largest, indent=1))


def test_predict_needs_only_the_chosen_models_files(run, tmp_path):
    """A CNN's prediction needs none of the KNN files: with every KNN model and the
    descriptors only KNN reads removed, predict still plans itself alone, and runs."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, symlinks=True)
    shutil.rmtree(copy / "results" / "knn")
    for name in ("jointhsv", "lbp"):
        shutil.rmtree(copy / "results" / "descriptors" / name)
    folder = copy / "results" / "demo" / "validation"
    args = ("--config", f"predict_dir={folder}", "predict_model=cnn/resnet")
    assert planned_rules(copy, *args, "--", "predict") == {"predict": 1}
    snakemake(copy, "predict", *args)
    images = [p for p in folder.iterdir() if not p.name.startswith(".")]  # .snakemake_timestamp
    assert len(pd.read_csv(copy / "results" / "predictions.csv")) == len(images) == 50
    result = snakemake(
        run, "-n", "predict", "--config", f"predict_dir={folder}", "predict_model=cnn/vgg",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "'cnn/vgg' is no model of this run" in result.stdout + result.stderr
    assert "cnn/fast_tta" in result.stdout + result.stderr  # the trained ones are listed
