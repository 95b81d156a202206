"""Snakemake entry point: validate one split and store it as a uint8 array file."""

from deepfake.ingest import ingest_split
from deepfake.io import save_arrays
from deepfake.smk import job_from_argv, run


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
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("ingest"))  # noqa: F821
