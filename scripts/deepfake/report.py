"""The report's landing page: what ran (data, configs, protocol, date, software), the
summary as an HTML table, and a short card per model.

``snakemake --report`` shows the page written here (reStructuredText with raw HTML)
beside the rule graph; the per-class recall figure and every other figure are results
of their own, each with a caption under ``report/``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

from deepfake import N_CLASSES

SUMMARY_COLUMNS = ["model", "validation accuracy", "macro F1", "weakest class", "protocol"]
DEMO_WARNING = (
    "The data is the synthetic demo set (data_dir: demo): random scenes with made-up "
    "generator fingerprints. It checks that the workflow runs; its accuracies say nothing "
    "about real images."
)


# The merged configuration, as Snakemake renders the page for ``snakemake --report`` (the
# config given to that command: pass it the run's --configfile overlays too). Written at
# report time, not as a rule parameter, so that a config edit does not rerun the page.
CONFIGURATION = [
    "Configuration",
    "-------------",
    "",
    "The merged configuration given to ``snakemake --report`` (config.yaml, then the",
    "overlays given with ``--configfile``), key by key:",
    "",
    "{% for key, value in snakemake.config.items() %}",
    "- ``{{ key }}``: ``{{ value | tojson }}``",
    "{% endfor %}",
]


def protocol_of(metrics: Mapping) -> str:
    """How a model's choices relate to the validation split, in a few words."""
    family = metrics["model"]
    if family == "cnn":
        if metrics.get("protocol") == "clean":
            return "clean: validation scored once, at the end"
        return "report: validation picks the epoch, the rate and the stop"
    if family == "knn":
        if "cv_accuracy" in metrics:
            return "clean: weights, k and voting by cross-validation on the training split"
        return "k and voting chosen on validation"
    if family == "gbm":
        return "clean: nothing chosen on validation"
    return "clean: equal-weight mean, nothing fitted"


def training_time(metrics: Mapping) -> str:
    seconds = metrics.get("train_seconds", metrics.get("fit_seconds"))  # CNN, or knn/gbm
    if seconds is None:
        return "the members' own"
    text = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    if "epochs_run" in metrics:
        text += f" ({metrics['epochs_run']} epochs"
        if "train_pflop" in metrics:
            text += f", {metrics['train_pflop']:.3g} PFLOP"
        text += f", {metrics.get('precision', 'float32')}, {metrics.get('backend')})"
    return text


def software(versions: Mapping) -> str:
    """The versions that made a model, in one line."""
    order = ["python", "keras", "backend", "tensorflow", "jax", "torch", "numpy", "opencv",
             "scikit-learn", "scipy", "snakemake"]  # fmt: skip
    parts = [f"{name} {versions[name]}" for name in order if versions.get(name)]
    if versions.get("git_commit"):
        parts.append(f"commit {versions['git_commit'][:12]}")
    return ", ".join(parts)


def summary_table(summary: pd.DataFrame) -> str:
    """The summary, best first, as an HTML table (one row per model)."""
    rows = []
    for row in summary.itertuples(index=False):
        cells = [
            html.escape(f"{row.model}/{row.variant}"),
            f"{row.val_accuracy:.3f}",
            f"{row.macro_f1:.3f}",
            f"{int(row.worst_class)}",
            html.escape(str(getattr(row, "protocol", "") if row.model == "cnn" else "")),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{c}</th>" for c in SUMMARY_COLUMNS)
    return (
        '<table class="summary"><thead><tr>' + head + "</tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )  # fmt: skip


def model_card(row: Mapping, metrics: Mapping, demo: bool) -> list[str]:
    """A model's card, as reStructuredText lines."""
    name = f"{row['model']}/{row['variant']}"
    recalls = [float(row[f"recall_{c}"]) for c in range(N_CLASSES)]
    weakest = int(row["worst_class"])
    lines = [
        f"``{name}``",
        "~" * (len(name) + 4),
        "",
        f"- **validation accuracy** {float(row['val_accuracy']):.3f} "
        f"(macro F1 {float(row['macro_f1']):.3f}), on {metrics['n_val']} images"
        + (f"; trained on {metrics['n_train']}" if "n_train" in metrics else ""),
        f"- **protocol** {protocol_of(metrics)}",
        "- **recall per class** "
        + ", ".join(f"{c}: {r:.2f}" for c, r in enumerate(recalls))
        + f"; weakest class {weakest} ({recalls[weakest]:.2f})",
        f"- **inputs** {metrics.get('features', '?')}",
        f"- **training time** {training_time(metrics)}",
    ]
    if metrics.get("members"):
        lines.append("- **members** " + ", ".join(f"``{m}``" for m in metrics["members"]))
    if metrics.get("versions"):
        lines.append(f"- **software** {software(metrics['versions'])}")
    if demo:
        lines.append("- **warning** synthetic demo data: this accuracy says nothing about real "
                     "images")  # fmt: skip
    return [*lines, ""]


def landing_page(
    summary: pd.DataFrame,
    metrics: Mapping[str, Mapping],
    run: Mapping,
) -> str:
    """The report's landing page: ``run`` holds data_dir, demo, date, versions, n_test;
    ``metrics`` each model's metrics.json by name. Its last section is the configuration,
    which Snakemake fills in (Jinja) when it builds the report."""
    best = summary.iloc[0]
    protocols = sorted({m.get("protocol") for m in metrics.values() if m["model"] == "cnn"})
    lines = [
        "Deepfake attribution: which of five generators made each image",
        "=" * 62,
        "",
    ]
    if run["demo"]:
        lines += [".. warning::", "", f"   {DEMO_WARNING}", ""]
    trained = next((m for m in metrics.values() if "n_train" in m), {})
    lines += [
        f"- **data** ``{run['data_dir']}``: {trained.get('n_train', '?')} training, "
        f"{trained.get('n_val', '?')} validation and {run['n_test']} test images",
        "- **config** ``config.yaml`` and its overlays, in full at the end of this page",
        "- **CNN protocol** " + (", ".join(p for p in protocols if p) or "no CNN trained"),
        f"- **best model** ``{best['model']}/{best['variant']}``: validation accuracy "
        f"{float(best['val_accuracy']):.3f} (it makes the submission)",
        f"- **made** {run['date']} with {software(run['versions'])}",
        "",
        "Summary",
        "-------",
        "",
        ".. raw:: html",
        "",
        "   " + summary_table(summary),
        "",
        "Model cards",
        "-----------",
        "",
    ]
    for _, row in summary.iterrows():
        lines += model_card(row, metrics[f"{row['model']}/{row['variant']}"], run["demo"])
    return "\n".join(lines + CONFIGURATION) + "\n"
