"""End to end with every CNN variant (the README's main command, config.yaml as shipped):
outputs, figures, report, submission, reruns."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_run, planned_rules, snakemake

pytestmark = pytest.mark.slow

VARIANTS = ["baseline", "bins8", "bins24", "cosine", "dropout03", "flatten"]
DOWNSTREAM = {"evaluate", "summary", "submission", "best_confusions", "class_recall", "report_page"}
DOWNSTREAM |= {"reliability"}
# The HTML report's configuration page: rewritten after any config edit (one quick job).
CONFIG_PAGE = {"report_config": 1}


@pytest.fixture(scope="module")
def cnn_run(main_shared, tmp_path_factory):
    """The shared run of config.yaml (all six variants, six KNN, the gbm) and its HTML
    report, in a copy of its own: the rerun tests edit its config."""
    return copy_run(main_shared, tmp_path_factory.mktemp("cnn") / "wf")


def planned_after(workdir, edit):
    """Dry-run plan after ``edit(config)``; config.yaml is restored afterwards."""
    path = workdir / "config.yaml"
    original = path.read_text()
    config = yaml.safe_load(original)
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        return planned_rules(workdir)
    finally:
        path.write_text(original)


def test_every_variant_is_trained_and_scored(cnn_run):
    summary = pd.read_csv(cnn_run / "results" / "metrics" / "summary.csv")
    assert sorted(summary.loc[summary["family"] == "cnn", "model"]) == sorted(
        f"cnn/{v}" for v in VARIANTS
    )
    assert len(summary) == len(VARIANTS) + 8  # and the six KNN, the gbm, the ensemble
    for variant in VARIANTS:
        folder = cnn_run / "results" / "cnn" / variant
        history = pd.read_csv(folder / "history.csv")
        assert history.columns[:6].tolist() == [
            "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
        ]  # fmt: skip
        assert len(history) == 2
        proba = np.load(folder / "val_proba.npy")
        assert proba.shape == (500, 5)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
        assert np.load(folder / "test_proba.npy").shape == (500, 5)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["val_accuracy"] == pytest.approx(
            np.mean(proba.argmax(1) == _labels(cnn_run))
        )
        assert (folder / "model.keras").stat().st_size > 0
        assert any((folder / "tensorboard").rglob("events.out.tfevents.*"))
        assert "epoch 2/2" in (cnn_run / "results" / "logs" / "cnn" / f"{variant}.log").read_text()
    flatten = json.loads((cnn_run / "results/cnn/flatten/metrics.json").read_text())
    baseline = json.loads((cnn_run / "results/cnn/baseline/metrics.json").read_text())
    assert flatten["n_params"] > baseline["n_params"]
    assert json.loads((cnn_run / "results/cnn/bins8/metrics.json").read_text())["inputs"] == (
        "image+hsv8"
    )


def test_ensemble_row_is_the_mean_of_every_variant(cnn_run):
    folder = cnn_run / "results" / "ensemble" / "mean"
    members = [np.load(cnn_run / "results" / "cnn" / v / "val_proba.npy") for v in VARIANTS]
    val_proba = np.load(folder / "val_proba.npy")
    np.testing.assert_allclose(val_proba, np.mean(members, axis=0), rtol=1e-5, atol=1e-7)
    tests = [np.load(cnn_run / "results" / "cnn" / v / "test_proba.npy") for v in VARIANTS]
    np.testing.assert_allclose(
        np.load(folder / "test_proba.npy"), np.mean(tests, axis=0), rtol=1e-5, atol=1e-7
    )
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["members"] == [f"cnn/{v}" for v in VARIANTS]
    accuracy = np.mean(val_proba.argmax(1) == _labels(cnn_run))
    assert metrics["val_accuracy"] == pytest.approx(accuracy)
    summary = pd.read_csv(cnn_run / "results" / "metrics" / "summary.csv")
    row = summary[summary["family"] == "ensemble"]
    assert row["model"].tolist() == ["ensemble/mean"]
    assert row["val_accuracy"].iloc[0] == pytest.approx(accuracy)
    assert (folder / "confusion.png").stat().st_size > 10_000
    assert len(pd.read_csv(folder / "report.csv")) == 5 + 3  # classes, accuracy, averages


def _labels(workdir):
    with np.load(workdir / "results" / "arrays" / "validation.npz") as arrays:
        return arrays["labels"]


def test_figures_report_and_submission(cnn_run):
    figures = cnn_run / "results" / "figures"
    for name in ("bins", "schedule", "dropout", "head"):
        assert (figures / f"curves_{name}.png").stat().st_size > 10_000
    for name in ("confusion_best", "class_histograms", "samples", "fingerprint_spectra"):
        assert (figures / f"{name}.png").stat().st_size > 10_000
    html = (cnn_run / "results" / "report.html").read_text(errors="replace")
    assert "curves_bins.png" in html and "summary.html" in html
    summary = pd.read_csv(cnn_run / "results" / "metrics" / "summary.csv")
    best = summary.iloc[0]
    expected = np.load(cnn_run / "results" / best["model"] / "test_proba.npy")
    submission = pd.read_csv(cnn_run / "results" / "submission.csv")
    assert submission["label"].tolist() == expected.argmax(1).tolist()


def test_editing_one_variant_reruns_that_variant_only(cnn_run):
    def edit(config):
        config["cnn"]["variants"]["dropout03"]["dropout"] = 0.25

    planned = planned_after(cnn_run, edit)
    assert planned == {
        "train_cnn": 1, "evaluate": 2, "learning_curves": 1, "ensemble": 1,
        "summary": 1, "submission": 1, "best_confusions": 1, "class_recall": 1, "report_page": 1,
        "reliability": 1,
    } | CONFIG_PAGE  # fmt: skip


def test_adding_a_variant_adds_one_training_job(cnn_run):
    def edit(config):
        config["cnn"]["variants"]["dropout02"] = {"dropout": 0.2}

    planned = planned_after(cnn_run, edit)
    # The new variant joins the default ensemble (every CNN variant): it is rescored too.
    assert planned["train_cnn"] == 1 and planned["evaluate"] == 2 and planned["ensemble"] == 1
    assert "descriptors" not in planned and "knn" not in planned


# The README's rerun table, key by key: what a dry run schedules after the edit.
RERUNS = {
    "knn.k": (lambda c: c["knn"].update(k=[3]), {"knn": 6} | dict.fromkeys(DOWNSTREAM)),
    "augment.copies": (
        lambda c: c["augment"].update(copies=2),
        {"augment": 1, "descriptors": 3, "train_cnn": 6, "learning_curves": 4, "ensemble": 1}
        | dict.fromkeys(DOWNSTREAM),
    ),
    "cnn.base.learning_rate": (
        lambda c: c["cnn"]["base"].update(learning_rate=0.002),
        {"train_cnn": 6, "learning_curves": 4, "ensemble": 1} | dict.fromkeys(DOWNSTREAM),
    ),
    "cnn.base.dropout": (  # dropout03 sets its own dropout: it stays
        lambda c: c["cnn"]["base"].update(dropout=0.4),
        {"train_cnn": 5, "learning_curves": 4, "ensemble": 1} | dict.fromkeys(DOWNSTREAM),
    ),
    "histogram_bins": (  # bins8 and bins24 keep their own; hsv16 -> hsv12 (knn, gbm)
        lambda c: c.update(histogram_bins=12),
        {"descriptors": 4, "knn": 1, "train_cnn": 4, "learning_curves": 4, "class_histograms": 1}
        | {"gbm": 1, "ensemble": 1}
        | dict.fromkeys(DOWNSTREAM),
    ),
    "cnn.environment": (lambda c: c["cnn"].update(environment="gpu"), {}),
    "knn.descriptors": (  # dropping a descriptor only re-summarises
        lambda c: c["knn"].update(descriptors=["hsv"]),
        {"summary": 1, "submission": 1, "best_confusions": 1, "class_recall": 1, "report_page": 1}
        | {"reliability": 1},
    ),
    "ensemble.members": (  # an explicit member list: only the ensemble and its scores
        lambda c: c.update(ensemble={"members": ["cnn/baseline", "knn/hsv16"]}),
        {"ensemble": 1, "evaluate": 1} | dict.fromkeys(DOWNSTREAM),
    ),
    "demo.seed": (  # new demo data: every stage
        lambda c: c["demo"].update(seed=4),
        {
            "demo_data": 1,
            "ingest": 3,
            "augment": 1,
            "descriptors": 25,
            "knn": 6,
            "gbm": 1,
            "train_cnn": 6,
            "evaluate": 14,
            "ensemble": 1,
            "learning_curves": 4,
            "class_histograms": 1,
            "fingerprint_spectra": 1,
            "sample_grid": 1,
            "split_check": 1,
        }
        | dict.fromkeys(DOWNSTREAM),
    ),  # fmt: skip
}


@pytest.mark.parametrize("key", RERUNS)
def test_rerun_table(cnn_run, key):
    edit, expected = RERUNS[key]
    expected = expected | CONFIG_PAGE
    planned = planned_after(cnn_run, edit)
    assert set(planned) == set(expected), planned
    for rule, count in expected.items():
        if count is not None:
            assert planned[rule] == count, (rule, planned)


def test_same_config_same_numbers(cnn_run, tmp_path):
    """Seeded: retraining the baseline in a copy gives the same predictions."""
    copy = tmp_path / "again"
    shutil.copytree(cnn_run, copy, symlinks=True)
    before = np.load(cnn_run / "results" / "cnn" / "baseline" / "val_proba.npy")
    snakemake(copy, "results/cnn/baseline/val_proba.npy", "--forcerun", "train_cnn")
    after = np.load(copy / "results" / "cnn" / "baseline" / "val_proba.npy")
    np.testing.assert_array_equal(before, after)
