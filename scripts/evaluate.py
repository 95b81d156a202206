"""Snakemake entry point: per-class report and confusion matrices of one model."""

import numpy as np

from deepfake.evaluate import confusion, per_class_report
from deepfake.io import save_csv
from deepfake.plots import confusion_figure, save
from deepfake.smk import job_from_argv, run


def main(smk):
    proba = np.load(smk.input.val_proba)
    with np.load(smk.input.validation) as arrays:
        labels = arrays["labels"]
    report = per_class_report(labels, proba)
    save_csv(smk.output.report, report)
    title = f"{smk.wildcards.family}/{smk.wildcards.name} (validation)"
    figure = confusion_figure(confusion(labels, proba), title)
    save(figure, smk.output.confusion, demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("evaluate"))  # noqa: F821
