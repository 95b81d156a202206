"""Snakemake entry point: each class's mean high-pass residual spectrum on the training
split, its difference from the other classes', and what a JPEG save does to it."""

import numpy as np

from deepfake.degrade import degrade_all
from deepfake.descriptors import mean_residual_spectrum
from deepfake.plots import fingerprint_spectra, save
from deepfake.smk import job_from_argv, run

PER_CLASS = 400  # the first training images of each class averaged
JPEG_QUALITY = 90


def spectra(images: np.ndarray, labels: np.ndarray) -> tuple[dict, dict]:
    """Each class's mean residual spectrum as the images are and after a JPEG save."""
    clean, jpeg = {}, {}
    for c in np.unique(labels):
        picked = images[np.flatnonzero(labels == c)[:PER_CLASS]]
        clean[int(c)] = mean_residual_spectrum(picked)
        jpeg[int(c)] = mean_residual_spectrum(degrade_all(picked, "jpeg", JPEG_QUALITY))
    return clean, jpeg


def main(smk):
    with np.load(smk.input[0]) as arrays:
        clean, jpeg = spectra(arrays["images"], arrays["labels"])
    save(fingerprint_spectra(clean, jpeg, JPEG_QUALITY), smk.output[0], demo=smk.params.demo)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("fingerprint_spectra"))  # noqa: F821
