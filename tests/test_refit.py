"""Refit (refit.model): every model also learns from the validation images, for the
submission; the run says its validation figures measure nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, load_config, planned_rules, snakemake, validated

from deepfake.config import check_refit
from deepfake.datafolder import data_record, trained_on
from deepfake.evaluate import summarise
from deepfake.report import REFIT_WARNING
from deepfake.training_sets import joined


def arrays(ids, labels):
    return {
        "images": np.zeros((len(ids), 2, 2, 3), np.uint8),
        "ids": np.array(ids),
        "labels": np.array(labels),
    }


def test_joined_keeps_the_order_and_refuses_an_id_in_both_sets():
    both = joined(arrays(["a", "b"], [0, 1]), arrays(["c"], [4]))
    assert both["ids"].tolist() == ["a", "b", "c"] and both["labels"].tolist() == [0, 1, 4]
    assert both["images"].shape == (3, 2, 2, 3)
    with pytest.raises(ValueError, match="an image id in two sets: \\['b'\\]"):
        joined(arrays(["a", "b"], [0, 1]), arrays(["b"], [1]))


def test_refit_needs_a_model_of_the_run_and_the_clean_protocol():
    config = validated(load_config("tiny_cnn"))
    config["refit"]["model"] = "cnn/baseline"
    # the report protocol picks epochs on validation; a KNN on one descriptor picks k there
    with pytest.raises(
        ValueError,
        match=r"\['knn/hsv16', 'knn/pixels', 'cnn/baseline'.*\] choose on the validation",
    ):
        check_refit(config)
    config["cnn"]["select_on_validation"] = False
    with pytest.raises(ValueError, match=r"\['knn/hsv16', 'knn/pixels'\] choose on the validation"):
        check_refit(config)
    config["knn"]["descriptors"] = ["combo"]
    check_refit(config)
    config["refit"]["model"] = "knn/nope"
    with pytest.raises(ValueError, match="refit.model: 'knn/nope' is no model of this run"):
        check_refit(config)


def test_the_data_record_and_its_words_say_validation_was_trained_on():
    assert "validation_in_training" not in data_record("demo")
    record = data_record("demo", refit=True)
    assert record["validation_in_training"] is True
    assert trained_on(record) == "demo (synthetic) + validation"
    assert trained_on(data_record("demo")) == "demo (synthetic)"


def test_the_refit_model_leads_the_summary():
    rows = [
        {"model": m, "val_accuracy": a, "macro_f1": a, "weakest_class": 0, "protocol": "clean",
         "train_seconds": 1.0, "train_pflop": 0.0, "trained_on": "demo", "family": "knn"}
        for m, a in [("knn/a", 0.9), ("knn/b", 0.5), ("knn/c", 0.7)]
    ]  # fmt: skip
    assert summarise(rows)[0]["model"].tolist() == ["knn/a", "knn/c", "knn/b"]
    assert summarise(rows, first="knn/b")[0]["model"].tolist() == ["knn/b", "knn/a", "knn/c"]
    with pytest.raises(ValueError, match="knn/x is not a row"):
        summarise(rows, first="knn/x")


@pytest.mark.slow
def test_a_refit_run_learns_from_validation_and_says_so(tmp_path):
    config = load_config("tiny") | {
        "calibration": {"holdout": 0.1, "seed": 0},
        "knn": {"k": [3, 5], "descriptors": ["combo"]},
        "gbm": {"descriptors": ["hsv", "cooc"], "max_iter": 10},
        "refit": {"model": "gbm/fingerprints"},
    }
    workdir = copy_workflow(tmp_path / "wf", config)
    assert planned_rules(workdir)["trainval"] == 1
    snakemake(workdir)
    results = workdir / "results"

    def ids(set_name):
        with np.load(results / "arrays" / f"{set_name}.npz") as data:
            return data["ids"].tolist()

    assert len(ids("trainval")) == 100 + 50
    fit = ids("fit")
    assert len(fit) + len(ids("holdout")) == 150
    assert set(ids("validation")) & set(fit)  # validation images are learned from
    with np.load(results / "knn" / "combo" / "reference.npz") as reference:
        assert len(reference["y"]) == len(fit)
    metrics = json.loads((results / "knn" / "combo" / "metrics.json").read_text())
    assert metrics["data"]["validation_in_training"] is True

    summary = pd.read_csv(results / "metrics" / "summary.csv")
    assert summary["model"].iloc[0] == "gbm/fingerprints"  # what refit.model names
    assert summary["trained_on"].eq("demo (synthetic) + validation").all()
    submission = pd.read_csv(results / "submission.csv")
    test_proba = np.load(results / "gbm" / "fingerprints" / "test_proba.npy")
    assert submission["label"].tolist() == test_proba.argmax(1).tolist()
    page = (results / "report" / "workflow.rst").read_text()
    assert REFIT_WARNING in " ".join(page.split())
    assert "**refit model** `gbm_fingerprints.html`_" in page
