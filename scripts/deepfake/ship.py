"""A trained model that ships: one self-contained folder that rule predict and
``deepfake-predict`` load on any machine, with its card.

The folder holds the model's own files (an ensemble's members under ``members/``), the
unknown-image detector (``unknowns.npz``), a handful of validation images with the
probabilities the model gave them (``check/``, so a copy can be checked bit for bit),
its reliability diagram and ``README.md``: what it was trained on, the recipe, its
validation accuracy and recall per class, calibration, unknowns, the software, the
date and the command that rebuilds it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from deepfake import N_CLASSES, layout
from deepfake.families import FAMILIES, read_card, save_card
from deepfake.io import save_csv
from deepfake.report import DEMO_WARNING

CHECK_IMAGES = 10  # validation images stored with their probabilities


def copy_model(source: Path, dest: Path) -> None:
    """A model folder's inference files (and its metrics), nothing else."""
    card = read_card(source)
    dest.mkdir(parents=True)
    for name in (*FAMILIES[card["kind"]].files, layout.METRICS):
        if (source / name).exists():
            shutil.copy2(source / name, dest / name)


def pack(source: Path, dest: Path) -> None:
    """Copy the model folder ``source`` into ``dest``; an ensemble's members go under
    ``dest/members/<family>_<name>`` and its card points there."""
    card = read_card(source)
    if card["kind"] != "ensemble":
        copy_model(source, dest)
        return
    dest.mkdir(parents=True)
    folders = {}
    for member in card["members"]:
        folders[member] = f"members/{layout.card_name(member).removesuffix('.html')}"
        copy_model(source / card["folders"][member], dest / folders[member])
    fields = {k: v for k, v in card.items() if k not in ("format", "kind", "folders")}
    save_card(dest, "ensemble", folders=folders, **fields)
    shutil.copy2(source / layout.METRICS, dest / layout.METRICS)


def write_check(dest: Path, images: np.ndarray, ids, proba: np.ndarray) -> None:
    """``check/<id>.png`` (lossless) and ``check/expected.csv`` (each image's
    probabilities as the model gave them)."""
    import cv2
    import pandas as pd

    from deepfake.predict import _exact

    folder = dest / "check"
    folder.mkdir(parents=True)
    for image, image_id in zip(images, ids, strict=True):
        cv2.imwrite(str(folder / f"{image_id}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    table = pd.DataFrame(
        {"image_id": [f"{i}.png" for i in ids]}
        | {f"proba_{c}": [_exact(p) for p in proba[:, c]] for c in range(N_CLASSES)}
    )
    save_csv(folder / "expected.csv", table)


def card_text(name: str, row: Mapping, metrics: Mapping, unknowns: Mapping, info: Mapping) -> str:
    """The shipped model's README.md."""
    recall = ", ".join(f"{c}: {float(row[f'recall_{c}']):.3f}" for c in range(N_CLASSES))
    calibration = metrics["calibration"]
    members = metrics.get("members") or [metrics["model"] + "/" + metrics["variant"]]
    lines = [
        f"# `{name}`: which of five generators made a 100x100 image",
        "",
        f"A trained `{metrics['model']}/{metrics['variant']}` of the deepfake-attribution "
        "workflow, packed to run without the data or any training:",
        "",
        "```bash",
        f"snakemake --cores all predict --config predict_dir=/path/to/images predict_model={name}",
        f"deepfake-predict /path/to/image_or_folder --model {name}",
        "```",
        "",
        "Each image gets a label (a class 0..4, or `unknown` when it lies far from every "
        "training image), the five calibrated probabilities and its unknown score.",
        "",
        "## What it is",
        "",
        f"- **data**: {info['data']}",
        *([f"- **warning**: {DEMO_WARNING}"] if metrics["data"].get("demo") else []),
        f"- **trained on** {metrics['n_train']} images; calibrated and thresholded on "
        f"{calibration.get('fitted_on', 'nothing')}",
        f"- **recipe**: {metrics.get('params', {}).get('combine', '')} "
        f"of {', '.join(f'`{m}`' for m in members)}; inputs {metrics['features']}",
        f"- **validation accuracy** {float(row['val_accuracy']):.4f} "
        f"(macro F1 {float(row['macro_f1']):.4f}) on {metrics['n_val']} images, "
        f"protocol {metrics['protocol']}",
        f"- **recall per class** {recall}",
        f"- **calibration** temperature {calibration['temperature']:.3f}; on validation, "
        f"ECE {calibration.get('val_ece_before', float('nan')):.4f} before, "
        f"{calibration.get('val_ece_after', float('nan')):.4f} after; NLL "
        f"{calibration.get('val_nll_before', float('nan')):.4f} before, "
        f"{calibration.get('val_nll_after', float('nan')):.4f} after "
        "([reliability.png](reliability.png))",
        f"- **unknown** above a score of {unknowns['threshold']:.3f} (the "
        f"{unknowns['quantile']:.0%} quantile of {unknowns['threshold_from']}); "
        f"{unknowns['val_unknown_rate']:.2%} of validation images called unknown",
        f"- **training** {float(row['train_seconds']) / 60:.1f} minutes of its networks' "
        f"training, {float(row['train_pflop']):.3g} PFLOP",
        f"- **made** {info['date']} with {info['software']}",
        "",
        "## Rebuild it",
        "",
        "```bash",
        info["command"],
        "```",
        "",
        "On the same machine and software this gives the same files bit for bit. "
        "`check/` holds validation images with the probabilities this model gave them.",
        "",
    ]
    return "\n".join(lines)


def publish(tmp: Path, dest: Path) -> None:
    """Move the packed folder ``tmp`` onto ``dest`` (replacing an older one)."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
