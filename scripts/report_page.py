"""Snakemake entry point: the HTML report's landing page (what ran, the summary table, the
best model, links), the summary table as a page of its own, and a card per model."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from deepfake import layout
from deepfake.io import write_atomic
from deepfake.report import landing_page, model_card, summary_table
from deepfake.smk import job_from_argv, run


def main(smk):
    summary = pd.read_csv(smk.input.summary)
    full = pd.read_csv(smk.input.full).set_index("model", drop=False)
    metrics = {layout.model_of(p): json.loads(Path(p).read_text()) for p in smk.input.metrics}
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n_test": len(pd.read_csv(smk.input.submission)),
    }
    page = landing_page(summary, metrics, info)
    write_atomic(smk.output.page, lambda tmp: tmp.write_text(page))
    table = f"<!doctype html><html><body>{summary_table(summary)}</body></html>\n"
    write_atomic(smk.output.summary, lambda tmp: tmp.write_text(table))
    for card in smk.output.cards:
        model = next(m for m in metrics if Path(card).name == layout.card_name(m))
        html = model_card(full.loc[model].to_dict(), metrics[model])
        write_atomic(card, lambda tmp, html=html: tmp.write_text(html))


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("report_page"))  # noqa: F821
