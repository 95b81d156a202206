"""Snakemake entry point: HSV histograms of one array file."""

import numpy as np

from deepfake.features import hsv_histograms
from deepfake.io import save_npy
from deepfake.smk import run


def main(smk):
    with np.load(smk.input[0]) as arrays:
        images = arrays["images"]
    save_npy(smk.output[0], hsv_histograms(images, bins=smk.params.bins))


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
