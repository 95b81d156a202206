"""Runs on other data or configs: changing data_dir between real folders and the demo
reruns from ingest, exactly what it must; results_dir keeps runs side by side."""

from __future__ import annotations

import json

import pytest
from conftest import copy_run, copy_workflow, load_config, planned_rules, snakemake

from deepfake.make_split import stratified_layout

pytestmark = pytest.mark.slow

# What new data reruns in the tiny config (no CNN): everything after the data.
FROM_INGEST = {
    "ingest": 3, "augment": 1, "descriptors": 4, "knn": 2, "evaluate": 2, "summary": 1,
    "submission": 1, "split_check": 1, "best_confusions": 1, "class_recall": 1,
    "class_histograms": 1, "fingerprint_spectra": 1, "sample_grid": 1, "report_page": 1,
    "reliability": 1,
}  # fmt: skip


def real_folder(sample, dest, per_class):
    stratified_layout(sample, dest, val_frac=0.4, per_class=per_class, seed=0)
    return dest


def test_switching_data_dir_reruns_from_ingest(tmp_path, sample, tiny_run_shared):
    workdir = copy_run(tiny_run_shared, tmp_path / "wf")  # the demo, run
    real = real_folder(sample, tmp_path / "real", 10)
    other = real_folder(sample, tmp_path / "other", 12)
    to_real = planned_rules(workdir, "--config", f"data_dir={real}")
    assert to_real == FROM_INGEST | {"report_config": 1}
    snakemake(workdir, "--config", f"data_dir={real}")
    metrics = json.loads((workdir / "results" / "knn" / "hsv16" / "metrics.json").read_text())
    assert metrics["data"]["data_dir"] == str(real.resolve()) and not metrics["data"]["demo"]
    assert planned_rules(workdir, "--config", f"data_dir={real}") == {}
    # another real folder, then the demo again (its files are still there: no demo_data)
    assert planned_rules(workdir, "--config", f"data_dir={other}") == FROM_INGEST | {
        "report_config": 1
    }
    assert planned_rules(workdir) == FROM_INGEST | {"report_config": 1}


def test_results_dir_keeps_runs_side_by_side(tmp_path, sample):
    workdir = copy_workflow(tmp_path / "wf", load_config("tiny"))
    real = real_folder(sample, tmp_path / "real", 10)
    snakemake(workdir, "--config", "results_dir=results/demo_run")
    snakemake(workdir, "--config", "results_dir=results/real_run", f"data_dir={real}")
    for run, demo in (("demo_run", True), ("real_run", False)):
        folder = workdir / "results" / run
        metrics = json.loads((folder / "knn" / "hsv16" / "metrics.json").read_text())
        assert metrics["data"]["demo"] is demo
        assert (folder / "logs" / "knn" / "hsv16.log").is_file()
        assert (folder / "submission.csv").is_file()
    # the real run changed nothing of the demo run
    assert planned_rules(workdir, "--config", "results_dir=results/demo_run") == {}
    assert not (workdir / "results" / "arrays").exists()  # nothing in the default folder
