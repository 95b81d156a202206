"""The HTML report's pages: a short landing page (what ran, the summary table, the best
model, links), a card per model and the run's configuration, each card and the
configuration an HTML result of its own.

``snakemake --report`` shows the landing page written here (reStructuredText with raw
HTML) beside the rule graph. Snakemake's template centres that page vertically, so a
page taller than the window would open in its middle with its top out of reach: the
page stays short (the cards are elsewhere) and its own style rule aligns it to the top.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

import pandas as pd

from deepfake import N_CLASSES
from deepfake.datafolder import trained_on
from deepfake.families import FAMILIES
from deepfake.layout import card_name
from deepfake.metrics import PROTOCOLS, compute_text

# The landing page's table: the summary.csv columns it shows, with their headings.
SUMMARY_HEADINGS = {
    "model": "model",
    "val_accuracy": "validation accuracy",
    "macro_f1": "macro F1",
    "weakest_class": "weakest class",
    "protocol": "protocol",
}
# What each column of summary.csv (deepfake.evaluate.SUMMARY_COLUMNS) means, one line
# each: the landing page explains the columns from here (a test holds the keys equal to
# the columns).
SUMMARY_EXPLAINED = {
    "model": "the model's family and name; its card (menu: Model cards) has the details",
    "family": ", ".join(f"{f.name} ({f.title})" if f.title else f.name for f in FAMILIES.values()),
    "val_accuracy": "the share of validation images whose most probable class is the "
    "true one; rows are ranked by it",
    "macro_f1": "the mean of the five classes' F1 scores (each class weighs the same)",
    "weakest_class": "the class (0..4) with the lowest recall on validation",
    "protocol": f"*report*: {PROTOCOLS['report']}, so its accuracy is optimistic; "
    f"*clean*: {PROTOCOLS['clean']}, an honest estimate. The ranking mixes both: "
    "compare clean rows with clean rows",
    "train_seconds": "training wall time in seconds (an ensemble's: its members' sum)",
    "train_pflop": "training compute in PFLOP, counted for networks (an ensemble's: its "
    "members' sum; 0 for the other families)",
    "trained_on": "the images the model learned from: demo (synthetic) or the data "
    "folder, + validation when the validation images were learned from too (refit)",
}
DEMO_WARNING = (
    "This run is on synthetic demo data (data_dir: demo): random scenes with made-up "
    "generator fingerprints, not images of real generators. It checks that the workflow "
    "runs; its accuracies say nothing about real data."
)
REFIT_WARNING = (
    "Every model of this run learned from the validation images too (refit.model), for "
    "the submission: the validation figures below measure nothing. The run without refit "
    "that chose the recipe has the figures that do."
)
# Snakemake's report centres the landing page in a full-height flex box
# ("grow flex items-center justify-center h-screen overflow-auto"); from the top, a
# page of any height can be scrolled whole.
TOP_ALIGNED = (
    "<style>div.grow.flex.items-center.justify-center.h-screen {align-items: flex-start;}</style>"
)
# A warning as a box no reader skims past: Snakemake's report styles nothing of an
# admonition (".. warning::" shows as the plain word "Warning"), so the box carries its
# own inline style, the same on the landing page and on the cards.
WARNING_STYLE = (
    "background: #fff4d6; border: 1px solid #f0b429; border-left: 6px solid #d97706; "
    "border-radius: 4px; color: #422006; padding: 0.6em 0.9em; margin: 0.8em 0;"
)


def protocol_text(metrics: Mapping) -> str:
    """How a model's choices relate to the validation split, in a few words."""
    text = f"{metrics['protocol']}: {PROTOCOLS[metrics['protocol']]}"
    return f"{text} ({FAMILIES[metrics['family']].protocol})"


def training_time(metrics: Mapping) -> str:
    seconds = float(metrics["train_seconds"])
    text = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    if FAMILIES[metrics["family"]].combines:
        return f"{text} (its members')"
    if "epochs_run" in metrics:
        text += (
            f" ({metrics['epochs_run']} epochs, {compute_text(metrics['train_pflop'])}, "
            f"{metrics['precision']}{', XLA' if metrics.get('jit_compile') else ''}, "
            f"{metrics['backend']})"
        )
    return text


def software(versions: Mapping) -> str:
    """The versions that made a model, in one line."""
    order = ["python", "keras", "backend", "tensorflow", "jax", "torch", "numpy", "opencv",
             "scikit-learn", "scipy", "snakemake"]  # fmt: skip
    parts = [f"{name} {versions[name]}" for name in order if versions.get(name)]
    if versions.get("git_commit"):
        parts.append(f"commit {versions['git_commit'][:12]}")
    return ", ".join(parts)


def data_warnings(data: Mapping) -> list[str]:
    """What a reader must know before reading a model's figures (its data record): the
    data is the synthetic demo, or the validation images were trained on."""
    return [
        *([DEMO_WARNING] if data.get("demo") else []),
        *([REFIT_WARNING] if data.get("validation_in_training") else []),
    ]


def warning_box(text: str) -> str:
    """A warning as a coloured box (HTML with its own style)."""
    return (
        f'<div class="data-warning" role="note" style="{WARNING_STYLE}">'
        f"<b>Warning:</b> {html.escape(text, quote=False)}</div>"
    )


def column_explained(column: str) -> str:
    """A summary column's name (as the landing page's table heads it) and what it means,
    from :data:`SUMMARY_EXPLAINED` (a column without one is an error), as RST."""
    heading = SUMMARY_HEADINGS.get(column, column)
    name = f"**{heading}** (``{column}``)" if heading != column else f"**{column}**"
    return f"{name}: {SUMMARY_EXPLAINED[column]}"


def summary_table(summary: pd.DataFrame) -> str:
    """The summary, best first, as an HTML table (one row per model)."""
    rows = []
    for row in summary.itertuples(index=False):
        cells = [
            html.escape(row.model),
            f"{row.val_accuracy:.3f}",
            f"{row.macro_f1:.3f}",
            f"{int(row.weakest_class)}",
            html.escape(str(row.protocol)),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{c}</th>" for c in SUMMARY_HEADINGS.values())
    return (
        '<table class="summary"><thead><tr>' + head + "</tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )  # fmt: skip


def model_card(row: Mapping, metrics: Mapping) -> str:
    """A model's card, as an HTML page."""
    name = row["model"]
    recalls = [float(row[f"recall_{c}"]) for c in range(N_CLASSES)]
    weakest = int(row["weakest_class"])
    items = [
        ("validation accuracy", f"{float(row['val_accuracy']):.3f} (macro F1 "
         f"{float(row['macro_f1']):.3f}) on {metrics['n_val']} images"),
        ("trained on", f"{metrics['n_train']} images of "
         f"{trained_on(metrics['data'], detail=True)}"),
        ("protocol", protocol_text(metrics)),
        ("recall per class", ", ".join(f"{c}: {r:.2f}" for c, r in enumerate(recalls))
         + f"; weakest class {weakest} ({recalls[weakest]:.2f})"),
        ("inputs", metrics["inputs"]),
        ("training time", training_time(metrics)),
    ]  # fmt: skip
    if metrics.get("members"):
        items.append(("members", ", ".join(metrics["members"])))
    items.append(("software", software(metrics["versions"])))
    body = "".join(f"<li><b>{k}</b> {html.escape(str(v))}</li>" for k, v in items)
    warning = "".join(warning_box(text) for text in data_warnings(metrics["data"]))
    return _page(name, f"<h1>{html.escape(name)}</h1>{warning}<ul>{body}</ul>")


def configuration_page(config: Mapping) -> str:
    """The run's merged configuration, key by key, as an HTML page."""
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td><code>{html.escape(json.dumps(value))}</code>"
        "</td></tr>"
        for key, value in config.items()
    )
    return _page(
        "Configuration",
        "<h1>Configuration</h1><p>The merged configuration of the run (config.yaml, then "
        "the overlays given with --configfile and --config), key by key.</p>"
        f"<table>{rows}</table>",
    )


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body>{body}</body></html>\n"
    )


def landing_page(summary: pd.DataFrame, metrics: Mapping[str, Mapping], run: Mapping) -> str:
    """The report's landing page: what ran, the summary table, the best model and links
    to the cards and the configuration (``run``: data, date, n_test). Short enough to
    open at its top in a 1400x900 window."""
    best = summary.iloc[0]
    any_metrics = next(iter(metrics.values()))
    lines = [
        "Deepfake attribution: which of five generators made each image",
        "=" * 62,
        "",
        ".. raw:: html",
        "",
        f"   {TOP_ALIGNED}",
        "",
    ]
    refit = any_metrics["data"].get("validation_in_training")
    for text in data_warnings(any_metrics["data"]):
        lines += [".. raw:: html", "", f"   {warning_box(text)}", ""]
    lines += [
        f"- **data** {trained_on(any_metrics['data'], detail=True)}: "
        f"{any_metrics['n_train']} training, "
        f"{any_metrics['n_val']} validation, {run['n_test']} test images",
        f"- **{'refit' if refit else 'best'} model** `{card_name(best['model'])}`_: "
        f"validation accuracy {float(best['val_accuracy']):.3f}; it makes the submission",
        f"- **made** {run['date']}; every model's card and the `configuration.html`_ are "
        "results of their own (menu: Model cards, Configuration)",
        "",
        # what a reader must know before comparing rows: right above the table
        f"{'The refit model first, then best' if refit else 'Best'} validation accuracy "
        f"first. {column_explained('protocol')}.",
        "",
        ".. raw:: html",
        "",
        "   " + summary_table(summary),
        "",
        "The other columns of the table and of ``results/metrics/summary.csv``:",
        "",
        *[f"- {column_explained(c)}" for c in summary.columns if c != "protocol"],
        "",
    ]
    return "\n".join(lines)
