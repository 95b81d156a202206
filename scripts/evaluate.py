"""Snakemake entry point: per-class report and confusion matrices of one model."""

import numpy as np
from deepfake.evaluate import confusion, per_class_report
from deepfake.io import write_atomic
from deepfake.plots import confusion_figure, save
from deepfake.smk import run


def main(smk):
    proba = np.load(smk.input.val_proba)
    with np.load(smk.input.validation) as arrays:
        labels = arrays["labels"]
    report = per_class_report(labels, proba)
    write_atomic(
        smk.output.report, lambda tmp: report.to_csv(tmp, index=False, float_format="%.4f")
    )
    title = f"{smk.wildcards.model} {smk.wildcards.variant} (validation)"
    save(confusion_figure(confusion(labels, proba), title), smk.output.confusion)


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
