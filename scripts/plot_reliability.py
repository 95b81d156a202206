"""Snakemake entry point: reliability diagrams of every model on validation, before and
after its temperature (fitted on held-out training images)."""

import json
from pathlib import Path

import numpy as np

from deepfake import layout
from deepfake.calibration import apply_temperature, ece, reliability
from deepfake.plots import reliability_figure, save
from deepfake.smk import job_from_argv, run


def main(smk):
    with np.load(smk.input.validation) as arrays:
        labels = arrays["labels"]
    panels = {}
    for proba_path, metrics_path in zip(smk.input.val_proba, smk.input.metrics, strict=True):
        after = np.load(proba_path)
        temperature = json.loads(Path(metrics_path).read_text())["calibration"]["temperature"]
        before = apply_temperature(after, 1.0 / temperature)  # the model's raw probabilities
        tables = []
        for proba in (before, after):
            table = reliability(proba, labels)
            tables.append(table | {"ece": ece(proba, labels)})
        panels[layout.model_of(proba_path)] = (*tables, temperature)
    save(reliability_figure(panels), smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("reliability"))  # noqa: F821
