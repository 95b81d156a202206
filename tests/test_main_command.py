"""The README's main command on a fresh copy (config.yaml as shipped, the demo data: the
shared run), then, in a copy of it, predict with the default model (best): the
validation images, predicted as new images, get the best model's validation
probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run, shared_output, snakemake

pytestmark = pytest.mark.slow


def test_main_command_then_predict_with_the_best_model(main_shared, tmp_path):
    # The shared run is `snakemake --cores all` (this machine's 2 cores) on a fresh copy;
    # predict writes into a copy of it.
    workdir = copy_run(main_shared, tmp_path / "wf")
    results = workdir / "results"
    # The terminal: three lines a job (time, rule, progress) and a few more, no library
    # start-up lines, and the last lines say where the results are.
    printed = shared_output(main_shared).splitlines()
    jobs = sum(line.startswith("Finished jobid: ") for line in printed)
    assert jobs == 74 and len(printed) <= 3 * jobs + 30, "\n".join(printed)
    assert not [line for line in printed if line.startswith(("E0000", "I0000", "WARNING: All"))]
    assert printed[-5:-2] == [
        "Summary of every model: results/metrics/summary.csv",
        "Submission: results/submission.csv",
        "HTML report: snakemake --report results/report.html",
    ]
    summary = pd.read_csv(results / "metrics" / "summary.csv")
    rows = summary["model"].tolist()
    trained = sorted(str(p.parent.relative_to(results)) for p in results.glob("*/*/metrics.json"))
    assert sorted(rows) == trained  # one row per trained model, no other
    assert {row.split("/")[0] for row in rows} == {"knn", "gbm", "cnn", "ensemble"}
    assert (results / "submission.csv").is_file()
    best = rows[0]

    folder = results / "demo" / "validation"
    snakemake(workdir, "predict", "--config", f"predict_dir={folder}")
    table = pd.read_csv(results / "predictions.csv", dtype={"image_id": str})
    with np.load(results / "arrays" / "validation.npz") as arrays:
        names = [f"{i}.png" for i in arrays["ids"]]
    table = table.set_index("image_id").loc[names]
    assert table["model"].eq(best).all()
    got = table[[f"proba_{c}" for c in range(5)]].to_numpy(np.float32)
    expected = np.load(results / best / "val_proba.npy")
    np.testing.assert_allclose(got, expected, atol=1e-5)
    if best.startswith("knn/"):
        np.testing.assert_array_equal(got, expected)
