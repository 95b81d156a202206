"""Every model kind the workflow offers attributes new images through rule predict.

The shared run of every model kind (tests/conftest.py: each descriptor's KNN, raw
pixels, the combination, the gradient-boosted trees, each network, a CNN with the
fingerprint input, one trained on random crops and predicted with test-time
augmentation, and an ensemble with a KNN and a gbm member), in a copy of its own.
Then, for every row of its summary, predict on the validation folder (the validation
images as new images: ``snakemake predict`` for the first row of each family, the
function its job calls for the others) gives back that model's ``val_proba.npy``: KNN
and gbm bit for bit, CNN and ensemble within 1e-5.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import NETWORK_VARIANTS, copy_run, job_stats, planned_rules, snakemake

from deepfake import layout
from deepfake.families import FAMILIES
from deepfake.metrics import COMMON_KEYS

pytestmark = pytest.mark.slow

VARIANTS = NETWORK_VARIANTS


@pytest.fixture(scope="module")
def run(every_model_shared, tmp_path_factory):
    return copy_run(every_model_shared, tmp_path_factory.mktemp("predict_all") / "wf")


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


# Run in one fresh interpreter, as rule predict's job runs: argv = the run's folder, the
# folder of images, then (model, predictions file) pairs.
PREDICT_EACH = r"""
import sys
from deepfake.layout import Layout
from deepfake.predict import predict_with

run, folder, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
for model, out in zip(pairs[::2], pairs[1::2]):
    predict_with(f"{run}/{Layout().model_dir(model)}", model, folder, out, threads=2)
"""


def test_predict_gives_back_every_models_validation_probabilities(run, tmp_path):
    """Every row: ``snakemake predict`` plans that one job (nothing retrains), and the
    function its job calls gives back the model's validation probabilities. The first
    row of each family also runs through ``snakemake predict`` (its declared inputs, its
    job), which gives back the same probabilities."""
    folder = run / "results" / "demo" / "validation"
    with np.load(run / "results" / "arrays" / "validation.npz") as arrays:
        names = [f"{i}.png" for i in arrays["ids"]]
    probas = [f"proba_{c}" for c in range(5)]
    rows = summary_rows(run)
    predicted = [(model, tmp_path / f"{layout.card_name(model)}.csv") for model in rows]
    pairs = [str(x) for model, out in predicted for x in (model, out)]
    subprocess.run(
        [sys.executable, "-c", PREDICT_EACH, str(run), str(folder), *pairs],
        check=True, env=os.environ | {"PYTHONHASHSEED": "0"},
    )  # fmt: skip
    through_snakemake = set()  # the families whose first row ran through snakemake
    for model in rows:
        config = ("--config", f"predict_dir={folder}", f"predict_model={model}")
        if layout.family(model) in through_snakemake:
            assert planned_rules(run, *config, "--", "predict") == {"predict": 1}, model
            continue
        through_snakemake.add(layout.family(model))
        done = snakemake(run, "predict", *config)
        assert job_stats(done.stdout + done.stderr) == {"predict": 1}, model  # nothing retrains
        through = tmp_path / f"snakemake_{layout.card_name(model)}.csv"
        predicted.append((model, shutil.copy(run / "results" / "predictions.csv", through)))
    assert through_snakemake == set(FAMILIES)
    largest = {}
    for model, path in predicted:
        table = pd.read_csv(path, dtype={"image_id": str}).set_index("image_id").loc[names]
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
    assert "cnn/fast_crop_tta" in result.stdout + result.stderr  # the trained ones are listed
