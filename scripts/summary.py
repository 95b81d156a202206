"""Snakemake entry point: one row per model, best first, or refit.model first
(summary.csv, the columns a reader needs; summary_full.csv, every field of each model's
metrics record)."""

from deepfake.evaluate import summarise, summary_row
from deepfake.io import save_csv
from deepfake.smk import job_from_argv, run


def main(smk):
    rows = [summary_row(m, r) for m, r in zip(smk.input.metrics, smk.input.reports, strict=True)]
    summary, full = summarise(rows, first=smk.params.first)
    save_csv(smk.output.summary, summary, float_format=None)
    save_csv(smk.output.full, full, float_format=None)


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("summary"))  # noqa: F821
