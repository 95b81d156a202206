"""Snakemake entry point: one row per model, best first."""

from deepfake.evaluate import summarise, summary_row
from deepfake.io import save_csv
from deepfake.smk import run


def main(smk):
    rows = [summary_row(m, r) for m, r in zip(smk.input.metrics, smk.input.reports, strict=True)]
    table = summarise(rows)
    save_csv(smk.output[0], table)


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
