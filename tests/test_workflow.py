"""End to end: the real snakemake on a tiny demo and on real images; rerun behaviour."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_run, copy_workflow, load_config, planned_rules, snakemake

from deepfake.make_split import stratified_layout

pytestmark = pytest.mark.slow

REPORT = {"class_recall", "report_page", "reliability"}  # they follow the models
SPINE = {"knn", "evaluate", "summary", "submission", "best_confusions"} | REPORT
CONFIG_PAGE = {"report_config"}  # the HTML report's configuration page: any config edit


@pytest.fixture(scope="module")
def demo_run(tiny_run_shared, tmp_path_factory):
    """The tiny demo config run to completion (the shared one, copied): tests read its
    results, and plan (never run) after edits of its config."""
    return copy_run(tiny_run_shared, tmp_path_factory.mktemp("demo") / "wf")


def edited(workdir, **changes):
    """Write config.yaml with nested changes, e.g. knn={"k": [3]}; return the original."""
    path = workdir / "config.yaml"
    original = path.read_text()
    config = yaml.safe_load(original)
    for section, value in changes.items():
        config[section] = config[section] | value if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return original


def test_demo_run_writes_every_artefact(demo_run):
    results = demo_run / "results"
    for split in ("train", "validation", "test"):
        with np.load(results / "arrays" / f"{split}.npz") as arrays:
            assert arrays["images"].shape[1:] == (100, 100, 3)
            assert arrays["images"].dtype == np.uint8
    with np.load(results / "arrays" / "train_aug.npz") as arrays:
        assert len(arrays["images"]) == 2 * 100  # one augmented copy each
    for name in ("hsv16", "pixels"):
        folder = results / "knn" / name
        grid = pd.read_csv(folder / "grid.csv")
        assert grid["k"].tolist() == [3, 5]
        assert np.load(folder / "val_proba.npy").shape == (50, 5)
        assert np.load(folder / "test_proba.npy").shape == (25, 5)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["val_accuracy"] == grid["val_accuracy"].max()
        assert (folder / "report.csv").exists() and (folder / "confusion.png").stat().st_size > 0
    for set_name in ("train", "validation", "test", "train_aug"):
        assert (results / "descriptors" / "hsv16" / f"{set_name}.npy").exists()


def test_summary_and_submission(demo_run):
    summary = pd.read_csv(demo_run / "results" / "metrics" / "summary.csv")
    assert set(summary["model"]) == {"knn/hsv16", "knn/pixels"}
    assert summary.columns.tolist() == [
        "model", "family", "val_accuracy", "macro_f1", "weakest_class", "protocol",
        "train_seconds", "train_pflop", "trained_on",
    ]  # fmt: skip
    # the protocol of every row; integers as integers; nothing nested
    assert set(summary["protocol"]) == {"report"}  # k and voting chosen on validation
    text = (demo_run / "results" / "metrics" / "summary.csv").read_text()
    assert ".0000" not in text and "{" not in text
    assert summary["trained_on"].eq("demo (synthetic)").all()
    full = pd.read_csv(demo_run / "results" / "metrics" / "summary_full.csv")
    assert full["model"].tolist() == summary["model"].tolist()
    assert {"recall_0", "best_k", "data.demo", "versions.numpy"} <= set(full.columns)
    assert summary["val_accuracy"].is_monotonic_decreasing
    submission = pd.read_csv(demo_run / "results" / "submission.csv")
    test_ids = pd.read_csv(demo_run / "results" / "demo" / "test.csv")["image_id"]
    assert submission.columns.tolist() == ["image_id", "label"]
    assert submission["image_id"].tolist() == test_ids.tolist()
    assert submission["label"].between(0, 4).all()
    best = summary.iloc[0]
    expected = np.load(demo_run / "results" / best["model"] / "test_proba.npy")
    assert submission["label"].tolist() == expected.argmax(1).tolist()


def test_nothing_to_do_after_a_complete_run(demo_run):
    assert planned_rules(demo_run) == {}


def test_changing_the_k_grid_reruns_knn_and_dependants_only(demo_run):
    original = edited(demo_run, knn={"k": [3, 7]})
    try:
        planned = planned_rules(demo_run)
    finally:
        (demo_run / "config.yaml").write_text(original)
    assert set(planned) == SPINE | CONFIG_PAGE and planned["knn"] == 2


def test_changing_bins_reruns_histograms_and_hsv_knn_not_ingest_or_augment(demo_run):
    original = edited(demo_run, histogram_bins=8)
    try:
        planned = planned_rules(demo_run)
    finally:
        (demo_run / "config.yaml").write_text(original)
    assert set(planned) == SPINE | CONFIG_PAGE | {"descriptors", "class_histograms"}
    assert planned["descriptors"] == 4 and planned["knn"] == 1  # hsv8 only; pixels unchanged


def test_changing_augmentation_leaves_knn_alone(demo_run):
    original = edited(demo_run, augment={"copies": 2})
    try:
        planned = planned_rules(demo_run)
    finally:
        (demo_run / "config.yaml").write_text(original)
    # train_aug only; no CNN in this config
    assert set(planned) == {"augment", "descriptors"} | CONFIG_PAGE
    assert planned["descriptors"] == 1


def test_config_errors_name_the_key(tmp_path):
    config = load_config("tiny")
    config["knn"]["k"] = [3, "five"]
    workdir = copy_workflow(tmp_path, config)
    result = snakemake(workdir, "-n", check=False)
    assert result.returncode != 0
    assert "config knn.k.1: 'five' is not of type 'integer'" in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args, key",
    [
        (["--config", "histogram_binz=8"], "'histogram_binz' is not allowed here"),
        (["--config", "cnn={base: {epochz: 3}}"], "'cnn.base.epochz' is not allowed here"),
    ],
)
def test_a_misspelt_key_is_said_in_a_few_lines(tmp_path, args, key):
    workdir = copy_workflow(tmp_path, load_config("tiny"))
    result = snakemake(workdir, "-n", *args, check=False)
    assert result.returncode != 0
    said = (result.stdout + result.stderr).strip().splitlines()
    assert len(said) <= 15, said  # not the schema, not the config
    tail = "\n".join(said[-6:])
    assert key in tail and "allowed keys:" in tail
    assert "histogram_bins" in tail if "binz" in key else "epochs" in tail


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda root: root / "nonexistent", "no such folder"),
        (lambda root: (root / "empty").mkdir() or root / "empty", "missing train/"),
    ],
)
def test_a_data_dir_not_in_the_competitions_layout_stops_before_any_job(tmp_path, make, problem):
    workdir = copy_workflow(tmp_path / "wf", load_config("tiny"))
    folder = make(tmp_path)
    result = snakemake(workdir, "-n", "--config", f"data_dir={folder}", check=False)
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config data_dir: {folder}" in said and problem in said
    assert "Job stats" not in said  # nothing planned


def test_real_images_histogram_knn_beats_chance(tmp_path, sample):
    data = tmp_path / "data"
    sizes = stratified_layout(sample, data, val_frac=0.2, per_class=200, seed=0)
    assert sizes == {"train": 800, "validation": 200, "test": 200}
    config = load_config("tiny") | {"data_dir": str(data)}
    config["knn"]["k"] = [3, 5, 7, 9, 11]
    workdir = copy_workflow(tmp_path / "wf", config)
    snakemake(workdir)
    summary = pd.read_csv(workdir / "results" / "metrics" / "summary.csv").set_index("model")
    print(summary[["val_accuracy", "macro_f1"]])
    assert summary.loc["knn/hsv16", "val_accuracy"] > 0.5  # chance is 0.2; measured 0.6
    assert summary.loc["knn/hsv16", "val_accuracy"] > summary.loc["knn/pixels", "val_accuracy"]
    assert summary["trained_on"].eq(str(data.resolve())).all()
    submission = pd.read_csv(workdir / "results" / "submission.csv")
    assert len(submission) == 200 and submission["image_id"].is_unique


def test_bad_input_fails_with_the_file_named_and_keeps_earlier_outputs(tmp_path, sample):
    data = tmp_path / "data"
    stratified_layout(sample, data, val_frac=0.5, per_class=10, seed=0)
    config = load_config("tiny") | {"data_dir": str(data)}
    workdir = copy_workflow(tmp_path / "wf", config)
    snakemake(workdir, "results/arrays/train.npz")
    kept = (workdir / "results" / "arrays" / "train.npz").read_bytes()
    lines = (data / "validation.csv").read_text().splitlines()
    lines[3] = lines[3].split(",")[0] + ",cat"
    (data / "validation.csv").write_text("\n".join(lines) + "\n")
    result = snakemake(workdir, check=False)
    assert result.returncode != 0
    log = (workdir / "results" / "logs" / "ingest" / "validation.log").read_text()
    assert f"{data / 'validation.csv'}, row 4: label 'cat' is not an integer" in log
    assert (workdir / "results" / "arrays" / "train.npz").read_bytes() == kept
    assert not (workdir / "results" / "arrays" / "validation.npz").exists()
    assert not list((workdir / "results" / "arrays").glob(".*"))  # no temporary leftovers
