"""Snakemake entry point: a grid of training images, one row per class."""

import numpy as np

from deepfake.plots import sample_grid, save
from deepfake.smk import run


def main(smk):
    with np.load(smk.input[0]) as arrays:
        save(sample_grid(arrays["images"], arrays["labels"]), smk.output[0])


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
