"""Snakemake entry point: validate one split and store it as a uint8 array file."""

from deepfake.ingest import ingest_split
from deepfake.io import save_arrays
from deepfake.smk import run


def main(smk):
    split = ingest_split(
        smk.input.csv, smk.input.images, labelled=smk.params.labelled, threads=smk.threads
    )
    save_arrays(
        smk.output[0],
        images=split.images,
        ids=split.ids,
        labels=split.labels,
        hashes=split.hashes,
    )


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
