"""A model that ships: rule ship_model packs a trained ensemble, its members, the
unknown-image detector, check images and its card into one folder; a fresh copy of the
workflow with no data and no training predicts with it; deepfake-predict writes the
same table; the repository's own shipped model reproduces its check images."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, SAMPLE, copy_workflow, planned_rules, snakemake

pytestmark = pytest.mark.slow
PROBAS = [f"proba_{c}" for c in range(5)]
SHIPPED = REPO / "models" / "laptop"


@pytest.fixture(scope="module")
def shipped(every_model_shared):
    """The shared run of every model kind (tests/conftest.py), whose ensemble of a
    CNN, a KNN combination and the gradient-boosted trees is shipped to models/tiny
    with the unknown-image detector; read only."""
    return every_model_shared


def test_the_folder_holds_everything_predict_needs_and_its_card(shipped):
    folder = shipped / "models" / "tiny"
    card = json.loads((folder / "model.json").read_text())
    assert card["family"] == "ensemble" and card["temperature"] != 1.0
    assert card["folders"] == {
        "cnn/paper": "members/cnn_paper",
        "knn/combo": "members/knn_combo",
        "gbm/fingerprints": "members/gbm_fingerprints",
    }
    assert card["combine"] == "geometric"
    assert (folder / "members" / "cnn_paper" / "model.keras").is_file()
    assert (folder / "members" / "gbm_fingerprints" / "trees.npz").is_file()
    assert data_only(folder)
    assert (folder / "unknowns.npz").is_file() and (folder / "reliability.png").is_file()
    assert len(list((folder / "check" / "images").glob("*.png"))) == 10
    assert len(pd.read_csv(folder / "check" / "validation.csv")) == 10
    readme = (folder / "README.md").read_text()
    for words in ("validation accuracy", "recall per class", "temperature", "ECE",
                  "unknown", "snakemake --cores all ship_model", "synthetic"):  # fmt: skip
        assert words in readme, words


def test_a_fresh_copy_predicts_with_it_without_data_or_training(shipped, tmp_path):
    fresh = copy_workflow(tmp_path / "fresh", yaml.safe_load((REPO / "config.yaml").read_text()))
    shutil.copytree(shipped / "models", fresh / "models")
    check = fresh / "models" / "tiny" / "check"
    args = ("--config", f"predict_dir={check / 'images'}", "predict_model=models/tiny")
    assert planned_rules(fresh, *args, "--", "predict") == {"predict": 1}  # nothing trains
    snakemake(fresh, "predict", *args)
    table = pd.read_csv(fresh / "results" / "predictions.csv", keep_default_na=False)
    expected = pd.read_csv(check / "expected.csv")
    table = table.set_index("image_id").loc[expected["image_id"]]
    np.testing.assert_allclose(
        table[PROBAS].to_numpy(float), expected[PROBAS].to_numpy(float), atol=1e-5
    )
    assert table["model"].eq("models/tiny").all() and table["unknown_score"].ne("").all()
    assert table["warning"].str.contains("synthetic demo").all()
    # the command installed with the package: the same table
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("deepfake-predict")), str(check / "images"),
         "--model", str(fresh / "models" / "tiny"), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    again = pd.read_csv(fresh / "results" / "predictions.csv", keep_default_na=False)
    from io import StringIO

    by_cli = pd.read_csv(StringIO(cli.stdout), keep_default_na=False)
    pd.testing.assert_frame_equal(by_cli.drop(columns="model"), again.drop(columns="model"))


def data_only(folder: Path) -> bool:
    """Every file of a model folder is data (no pickle) and every card of this format."""
    from deepfake.families import CARD_FORMAT

    files = [p for p in folder.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp"]
    suffixes = {p.suffix for p in files}  # (Snakemake marks a directory output with that file)
    cards = [json.loads(p.read_text()) for p in folder.rglob("model.json")]
    return suffixes <= {".json", ".npz", ".keras", ".png", ".csv", ".md"} and all(
        card["format"] == CARD_FORMAT and "kind" not in card for card in cards
    )


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="no shipped model in this checkout")
def test_the_repositorys_shipped_model_is_data_only():
    assert data_only(SHIPPED)


def shipped_tolerance() -> float:
    """How close the shipped model's numbers must come: 1e-5 on a CPU with the flags of
    the one it was trained on; 5e-3 elsewhere (its networks compute in bfloat16, whose
    kernels round differently on CPUs without bfloat16 units)."""
    from deepfake.backend import cpu_flags
    from deepfake.train import CPU_FLAGS_OF_NOTE

    trained = {
        flag
        for metrics in SHIPPED.glob("members/cnn_*/metrics.json")
        for flag in json.loads(metrics.read_text())["cpu_flags"]
    }
    return 1e-5 if cpu_flags() & CPU_FLAGS_OF_NOTE == trained else 5e-3


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="no shipped model in this checkout")
def test_the_repositorys_shipped_model_gives_back_its_check(tmp_path):
    """models/laptop on its stored synthetic images: the same probabilities, unknown
    scores and labels as when it was packed (they lie far from its training images)."""
    out = tmp_path / "p.csv"
    done = subprocess.run(
        [sys.executable, "-m", "deepfake.cli", str(SHIPPED / "check" / "images"), "--model",
         str(SHIPPED),
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False)
    expected = pd.read_csv(SHIPPED / "check" / "expected.csv", keep_default_na=False)
    assert table["image_id"].tolist() == expected["image_id"].tolist()
    tolerance = shipped_tolerance()
    np.testing.assert_allclose(
        table[PROBAS].to_numpy(float), expected[PROBAS].to_numpy(float), atol=tolerance
    )
    np.testing.assert_allclose(
        table["unknown_score"], expected["unknown_score"], atol=max(1e-3, 10 * tolerance)
    )
    assert table["label"].tolist() == expected["label"].tolist()
    # trained on real images: no model warning; the demo's JPEG-laundered class shows
    assert table["warning"].tolist() == expected["warning"].tolist()
    assert not table["warning"].str.contains("synthetic demo").any()
    assert table["warning"].str.startswith("JPEG traces").sum() == 2


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="no shipped model in this checkout")
def test_the_repositorys_shipped_model_gives_back_its_validation_probabilities(tmp_path):
    """The competition's images are not shipped: where the labelled training images are
    at hand (SAMPLE's parent folder holds the whole labelled split), the validation
    images of check/validation.csv get the probabilities the model recorded."""
    source = SAMPLE.parent / "deepfake-train" / "train"
    if not source.is_dir():
        pytest.skip(f"the competition's labelled training images are not at {source}")
    expected = pd.read_csv(SHIPPED / "check" / "validation.csv", dtype={"image_id": str})
    folder = tmp_path / "validation"
    folder.mkdir()
    for image_id in expected["image_id"]:
        (folder / f"{image_id}.png").symlink_to(source / f"{image_id}.png")
    out = tmp_path / "p.csv"
    done = subprocess.run(
        [sys.executable, "-m", "deepfake.cli", str(folder), "--model", str(SHIPPED),
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out).set_index("image_id")
    got = table.loc[[f"{i}.png" for i in expected["image_id"]], PROBAS].to_numpy(float)
    np.testing.assert_allclose(got, expected[PROBAS].to_numpy(float), atol=shipped_tolerance())
    assert (table["label"] != "unknown").sum() >= 8  # its own kind of images
