"""A trained model that ships: one self-contained folder that rule predict and
``deepfake-predict`` load on any machine, with its card.

The folder holds the model's own files (an ensemble's members under ``members/``), the
unknown-image detector (``unknowns.npz``), a check (``check/``: synthetic images made by
the workflow's demo generator with the probabilities and unknown scores the model gave
them, and the ids of a handful of validation images with their validation
probabilities: the competition's images themselves are not shipped), its reliability
diagram and ``README.md``: what it was trained on, the recipe, its validation accuracy
and recall per class, calibration, unknowns, the software, the date and the command that
rebuilds it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from deepfake import N_CLASSES, layout
from deepfake.families import FAMILIES, read_card, save_card
from deepfake.io import save_csv
from deepfake.metrics import compute_text
from deepfake.report import data_warnings

CHECK_IMAGES = 10  # synthetic images stored, and validation ids recorded, for the check
CHECK_SEED = 2026  # the demo generator's stream of the check images


def copy_model(source: Path, dest: Path) -> None:
    """A model folder's inference files (and its metrics), nothing else: a network
    without its optimizer's state; every other file (gbm's trees, a compressed ``.npz``
    of plain arrays, among them) copied as it is."""
    card = read_card(source)
    dest.mkdir(parents=True)
    for name in (*FAMILIES[card["family"]].files, layout.METRICS):
        if not (source / name).exists():
            continue
        if name == layout.NETWORK:
            import keras

            from deepfake.cnn_model import inference_copy

            network = keras.models.load_model(source / name, compile=False)
            inference_copy(network).save(dest / name)
        else:
            shutil.copy2(source / name, dest / name)
    shipped_data(dest)


def shipped_data(folder: Path) -> None:
    """The card's data record without the trainer's own path: the folder's name and the
    fingerprint of its training images."""
    card = read_card(folder)
    data = dict(card.get("data") or {})
    if data.get("data_dir") and not data.get("demo"):
        data["data_dir"] = Path(data["data_dir"]).name
    fields = {k: v for k, v in card.items() if k not in ("format", "family", "data")}
    save_card(folder, card["family"], data=data, **fields)


def pack(source: Path, dest: Path) -> None:
    """Copy the model folder ``source`` into ``dest``; an ensemble's members go under
    ``dest/members/<family>_<name>`` and its card points there."""
    card = read_card(source)
    if card["family"] != "ensemble":
        copy_model(source, dest)
        return
    dest.mkdir(parents=True)
    folders = {}
    for member in card["members"]:
        folders[member] = f"members/{layout.card_name(member).removesuffix('.html')}"
        copy_model(source / card["folders"][member], dest / folders[member])
    fields = {k: v for k, v in card.items() if k not in ("format", "family", "folders")}
    save_card(dest, "ensemble", folders=folders, **fields)
    shutil.copy2(source / layout.METRICS, dest / layout.METRICS)
    shipped_data(dest)


def write_check(dest: Path, model_dir: Path, name: str, validation_ids, validation_proba) -> None:
    """``check/``: :data:`CHECK_IMAGES` synthetic images from the demo generator
    (``images/``, PNG) with the packed model's probabilities and unknown scores of them
    (``expected.csv``, by :func:`deepfake.predict.predict_with`, the path predict and
    deepfake-predict take), and ``validation.csv``: the ids of validation images with
    the probabilities the model gave them (``val_proba.npy``)."""
    import tempfile

    import pandas as pd

    from deepfake.demo import generate_demo
    from deepfake.predict import _exact, predict_with

    folder = dest / "check"
    images = folder / "images"
    with tempfile.TemporaryDirectory() as tmp:
        generate_demo(tmp, 5, CHECK_IMAGES, 5, CHECK_SEED)
        images.mkdir(parents=True)
        for path in sorted((Path(tmp) / "validation").glob("*.png")):
            shutil.copy2(path, images / path.name)
    detector = dest / layout.UNKNOWNS
    predict_with(
        model_dir, name, images, folder / "expected.csv",
        detector=detector if detector.exists() else None,
    )  # fmt: skip
    table = pd.DataFrame(
        {"image_id": [str(i) for i in validation_ids]}
        | {f"proba_{c}": [_exact(p) for p in validation_proba[:, c]] for c in range(N_CLASSES)}
    )
    save_csv(folder / "validation.csv", table)


def card_text(name: str, row: Mapping, metrics: Mapping, unknowns: Mapping, info: Mapping) -> str:
    """The shipped model's README.md."""
    recall = ", ".join(f"{c}: {float(row[f'recall_{c}']):.3f}" for c in range(N_CLASSES))
    calibration = metrics["calibration"]
    members = metrics.get("members") or [metrics["family"] + "/" + metrics["name"]]
    lines = [
        f"# `{name}`: which of five generators made a 100x100 image",
        "",
        f"A trained `{metrics['family']}/{metrics['name']}` of the deepfake-attribution "
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
        *[f"- **warning**: {text}" for text in data_warnings(metrics["data"])],
        f"- **trained on** {metrics['n_train']} images; calibrated and thresholded on "
        f"{calibration.get('fitted_on', 'nothing')}",
        f"- **recipe**: {metrics.get('params', {}).get('combine', '')} "
        f"of {', '.join(f'`{m}`' for m in members)}; inputs {metrics['inputs']}",
        f"- **validation accuracy** {float(row['val_accuracy']):.4f} "
        f"(macro F1 {float(row['macro_f1']):.4f}) on {metrics['n_val']} images, "
        f"protocol {metrics['protocol']}",
        f"- **recall per class** {recall}",
        f"- **calibration** temperature {calibration['temperature']:.3f}; on validation, "
        f"ECE {calibration.get('val_ece_before', float('nan')):.4f} before, "
        f"{calibration.get('val_ece_after', float('nan')):.4f} after; NLL "
        f"{calibration.get('val_nll_before', float('nan')):.4f} before, "
        f"{calibration.get('val_nll_after', float('nan')):.4f} after "
        "([reliability.png](reliability.png): the diagrams of every model of the run that "
        "made it, this one's among them)",
        f"- **unknown** above a score of {unknowns['threshold']:.3f} (the distance to the "
        "nearest training images in the fingerprint descriptors"
        + (f", plus `{unknowns['model']}`'s uncertainty" if unknowns.get("model") else "")
        + f"; the {unknowns['quantile']:.0%} quantile of {unknowns['threshold_from']}); "
        f"{unknowns['val_unknown_rate']:.2%} of validation images called unknown",
        f"- **training** {float(row['train_seconds']) / 60:.1f} minutes of its members' "
        f"training{', ' + compute if (compute := compute_text(row['train_pflop'])) else ''}"
        f"{info.get('machine', '')}",
        f"- **made** {info['date']} with {info['software']}",
        "",
        "## Rebuild it",
        "",
        "```bash",
        info["command"],
        "```",
        "",
        "On the same machine and software this gives the same files bit for bit. "
        "`check/` holds synthetic images with the probabilities and unknown scores this "
        "model gave them (`deepfake-predict check/images --model .` gives them back), and the ids "
        "of validation images with their validation probabilities.",
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
