"""Snakemake entry point: attribute every image of a folder with a trained model."""

import logging

from deepfake.smk import job_from_argv, run


def main(smk):
    from deepfake.predict import counts_line, predict_with

    counts = predict_with(
        str(smk.params.model_dir),
        str(smk.params.model),
        smk.input.folder,
        smk.output[0],
        detector=smk.input.get("detector"),
        threads=int(smk.threads),
        backend=str(smk.params.backend),
    )
    logging.info(counts_line(counts))


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("predict"))  # noqa: F821
