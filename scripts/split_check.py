"""Snakemake entry point: warn about byte-identical images under different ids across splits."""

import logging
from pathlib import Path

import numpy as np

from deepfake import SPLITS
from deepfake.ingest import duplicates_across_splits
from deepfake.io import write_atomic
from deepfake.smk import job_from_argv, run


def main(smk):
    splits = {}
    for name, path in zip(SPLITS, smk.input.arrays, strict=True):
        with np.load(path) as arrays:
            splits[name] = {"ids": arrays["ids"], "hashes": arrays["hashes"]}
    found = duplicates_across_splits(splits)
    if found:
        logging.warning(
            "%d byte-identical image(s) under different ids across splits (leakage?), e.g. %s",
            len(found),
            "; ".join(found[:5]),
        )
    write_atomic(smk.output[0], lambda tmp: Path(tmp).write_text("".join(f"{f}\n" for f in found)))
    logging.info("%d duplicates across splits", len(found))


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("split_check"))  # noqa: F821
