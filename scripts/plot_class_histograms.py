"""Snakemake entry point: mean HSV histogram of each class on the training split."""

import numpy as np

from deepfake.plots import class_histograms, save
from deepfake.smk import job_from_argv, run


def main(smk):
    with np.load(smk.input.train) as arrays:
        labels = arrays["labels"]
    figure = class_histograms(np.load(smk.input.hist), labels, smk.params.bins)
    save(figure, smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("class_histograms"))  # noqa: F821
