"""Snakemake entry point: the report's landing page (what ran, the summary as an HTML
table, a card per model) and the summary table as a page of its own."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import snakemake as snakemake_package

from deepfake import layout
from deepfake.io import write_atomic
from deepfake.provenance import versions
from deepfake.report import landing_page, summary_table
from deepfake.smk import run


def main(smk):
    summary = pd.read_csv(smk.input.summary)
    metrics = {layout.model_of(p): json.loads(Path(p).read_text()) for p in smk.input.metrics}
    n_test = len(pd.read_csv(smk.input.submission))
    info = {
        "data_dir": smk.params.data_dir,
        "demo": smk.params.demo,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": versions() | {"snakemake": snakemake_package.__version__},
        "n_test": n_test,
    }
    page = landing_page(summary, metrics, info)
    write_atomic(smk.output.page, lambda tmp: tmp.write_text(page))
    table = f"<!doctype html><html><body>{summary_table(summary)}</body></html>\n"
    write_atomic(smk.output.summary, lambda tmp: tmp.write_text(table))


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
