"""Snakemake entry point: the test-split submission of the best model on validation."""

import logging

import numpy as np
import pandas as pd

from deepfake import layout
from deepfake.evaluate import submission
from deepfake.io import save_csv
from deepfake.smk import job_from_argv, run


def main(smk):
    best = pd.read_csv(smk.input.summary).iloc[0]
    model = best["model"]
    proba_path = next(p for p in smk.input.test_proba if layout.model_of(p) == model)
    with np.load(smk.input.test) as arrays:
        ids = arrays["ids"]
    table = submission(ids, np.load(proba_path))
    save_csv(smk.output[0], table)
    logging.info(
        "submission from %s (validation accuracy %.4f): %d rows",
        model,
        best["val_accuracy"],
        len(table),
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("submission"))  # noqa: F821
