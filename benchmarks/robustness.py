"""How a trained model's answers hold up when its images travel: the validation images of
a data folder as they are, and re-encoded or resized as images are on their way
(``deepfake.degrade.CONDITIONS``: lossless WebP, JPEG of quality 95, 90, 75 and 50, a
resize to half and to twice the size and back).

    python benchmarks/robustness.py --model models/laptop --data DIR [--out table.csv]

DIR is a data folder in the competition's layout whose ``validation.csv`` labels its
validation images. Each condition's images go through the one inference path
(``deepfake.families.load(MODEL).predict_proba``, and the model folder's unknown-image
detector when it has one, as ``deepfake-predict`` scores them). Prints, for each
condition: the accuracy (the most probable class; images called unknown count by that
class too), the expected calibration error (``deepfake.calibration.ece``), the share of
images called unknown, and the mean top probability of the wrong answers (how sure the
model is when it errs).

Refuses (exit 2) a model whose card says it was trained on these validation images (a
refit on this folder; training images whose fingerprint is this folder's validation
images, or its training and validation images together), or cannot say what it was
trained on.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import cores, header, parser, table

COLUMNS = ("condition", "accuracy", "ECE", "called unknown", "wrong: mean top p", "seconds")
CSV_COLUMNS = ("condition", "kind", "value", "images", "accuracy", "ece", "unknown_share",
               "wrong_mean_top_proba", "seconds")  # fmt: skip


# --------------------------------------------------------------------------- the refusal


def union_manifest(folder: Path) -> str | None:
    """The fingerprint (``deepfake.datafolder.folder_manifest``) that a folder holding
    both ``train/`` and ``validation/`` of ``folder`` would have, or None when the two
    share a name."""
    from deepfake.datafolder import folder_manifest

    with tempfile.TemporaryDirectory() as tmp:
        for split in ("train", "validation"):
            with os.scandir(folder / split) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        os.symlink(os.path.abspath(entry.path), os.path.join(tmp, entry.name))
                    except FileExistsError:
                        return None
        return folder_manifest(tmp)


def held_out(data: dict | None, folder: str | os.PathLike) -> tuple[bool, str]:
    """Whether a model's data record (its card's ``data``: what it was trained on,
    ``deepfake.datafolder.data_record``) lets it be scored on the validation images of
    the data folder ``folder``, and why. Refused: no record or no fingerprint of the
    training images (the card cannot tell); validation in training (a refit) on this
    folder (its path, its training or its validation fingerprint) or on a folder the card
    cannot tell apart from it; training images whose fingerprint is this folder's
    validation images, or its training and validation images together."""
    from deepfake.datafolder import folder_manifest

    folder = Path(folder)
    if not isinstance(data, dict) or not data:
        return False, "its card has no data record: it cannot tell what the model was trained on"
    refit = bool(data.get("validation_in_training"))
    if data.get("demo"):
        if refit:
            return False, (
                "trained on the synthetic demo set's training and validation images "
                "(validation_in_training): its card cannot tell whether these are they"
            )
        return True, "trained on the synthetic demo set, not on these images"
    trained = data.get("train")
    if not trained:
        return False, (
            "its card's data record has no fingerprint of the training images: it cannot "
            "tell what the model was trained on"
        )
    here = {split: folder_manifest(folder / split) for split in ("train", "validation")}
    if trained == here["validation"]:
        return False, f"its training images are this folder's validation images ({trained})"
    if trained == union_manifest(folder):
        return False, (
            f"its training images are this folder's training and validation images "
            f"together ({trained})"
        )
    where = str(data.get("data_dir") or "")
    same_path = os.path.isabs(where) and Path(where).resolve() == folder.resolve()
    same_train = trained == here["train"]
    if refit:
        seen = data.get("validation")
        if same_path or same_train or seen == here["validation"]:
            return False, "trained on this folder's validation images too (validation_in_training)"
        if seen is None:
            return False, (
                "trained on its data folder's validation images too (validation_in_training) "
                "and its card records no fingerprint of them: it cannot tell whether they are "
                "these"
            )
        return True, (
            f"trained on the training and validation images of another folder ({where}: "
            f"{trained}; validation {seen}), not this folder's (validation {here['validation']})"
        )
    if same_train:
        return True, (
            f"trained on this folder's training images ({trained}); its card says its "
            "validation images were not trained on"
        )
    return True, (
        f"trained on another folder's training images ({where}: {trained}; this folder's "
        f"train/: {here['train']}); the card says that folder's validation images were not "
        "trained on, and cannot tell whether this folder's validation images are among its "
        "training images"
    )


# --------------------------------------------------------------------------- the measures


def measures(proba: np.ndarray, labels: np.ndarray, unknown: np.ndarray | None) -> dict:
    """Accuracy of the most probable class, ECE, the share called unknown (None without
    a detector), and the mean top probability of the wrong answers (None if none)."""
    from deepfake.calibration import ece

    proba, labels = np.asarray(proba), np.asarray(labels)
    wrong = proba.argmax(axis=1) != labels
    return {
        "accuracy": float(np.mean(~wrong)),
        "ece": ece(proba, labels),
        "unknown_share": None if unknown is None else float(np.mean(unknown)),
        "wrong_mean_top_proba": float(proba[wrong].max(axis=1).mean()) if wrong.any() else None,
    }


def row_text(name: str, m: dict, seconds: float) -> list[str]:
    """A table row of :func:`measures` (``-`` where a measure has no value)."""

    def shown(value, text):
        return "-" if value is None else text.format(value)

    return [
        name,
        f"{m['accuracy']:.3f}",
        f"{m['ece']:.3f}",
        shown(m["unknown_share"], "{:.1%}"),
        shown(m["wrong_mean_top_proba"], "{:.3f}"),
        f"{seconds:.0f}",
    ]


def validation_set(folder: Path, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """The labelled validation images of a data folder (RGB uint8, decoded as predict
    decodes new images) and their labels, in ``validation.csv``'s order."""
    from deepfake.predict import read_images

    with open(folder / "validation.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "label" not in rows[0]:
        raise ValueError(f"{folder / 'validation.csv'}: no labelled rows (image_id,label)")
    new = read_images(folder / "validation", [f"{r['image_id']}.png" for r in rows], threads)
    if not new.decoded.all():
        bad = [f"{n} ({e})" for n, e in zip(new.names, new.errors, strict=True) if e]
        raise ValueError(f"{folder / 'validation'}: cannot read {', '.join(bad[:3])}")
    return new.images, np.array([int(r["label"]) for r in rows])


def write_csv(path: Path, rows: list[dict]) -> None:
    from deepfake.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__, rounds=1)
    p.add_argument("--model", type=Path, required=True, help="a trained model's folder")
    p.add_argument("--data", type=Path, required=True, help="a data folder, competition layout")
    p.add_argument("--out", type=Path, help="also write the table as CSV here")
    p.add_argument("--threads", type=int, default=None, help="default: the usable cores")
    args = p.parse_args(argv)
    threads = args.threads or cores()

    from deepfake.datafolder import check_data_folder
    from deepfake.families import FAMILIES, read_card

    try:
        card = read_card(args.model)
        check_data_folder(args.data)
    except (OSError, ValueError) as error:
        p.exit(2, f"{p.prog}: error: {str(error).removeprefix('config data_dir: ')}\n")
    fair, why = held_out(card.get("data"), args.data)
    if not fair:
        p.exit(2, f"{p.prog}: error: refused to score {args.data} with {args.model}: {why}\n")

    backend = ""
    if FAMILIES[card["family"]].keras:  # threads and determinism before Keras loads
        from deepfake.backend import configure

        backend = configure(threads=threads, deterministic=True)
    from deepfake.degrade import CONDITIONS, degrade_all
    from deepfake.families import load
    from deepfake.layout import METRICS, UNKNOWNS
    from deepfake.predict import warning_of
    from deepfake.unknowns import UnknownDetector

    model = load(args.model, threads=threads)
    detector = None
    if (args.model / UNKNOWNS).is_file():
        detector = UnknownDetector.load(args.model / UNKNOWNS)
    # the detector of the model's own folder joins its uncertainty when it knows a model
    # (deepfake.predict.predict_with)
    with_model = detector is not None and bool(detector.model)
    images, labels = validation_set(args.data, threads)
    header(
        ("numpy", "pillow", "cv2", "sklearn", "keras"),
        extra=f"{backend + ', ' if backend else ''}{threads} threads | {args.model} on "
        f"{len(images)} validation images of {args.data}",
    )
    print(f"# {args.model}: {why}")
    recorded = args.model / METRICS
    if recorded.is_file() and "val_accuracy" in (metrics := json.loads(recorded.read_text())):
        print(f"# its own validation accuracy ({METRICS}): {metrics['val_accuracy']:.4f}")
    if warning := warning_of(card):
        print(f"# warning: {warning}")
    if detector is None:
        print(f"# no unknown-image detector in {args.model}: nothing is called unknown")

    shown, records = [], []
    for condition in CONDITIONS:
        start = time.perf_counter()
        degraded = degrade_all(images, condition.kind, condition.value)
        proba = model.predict_proba(degraded)
        unknown = None
        if detector is not None:
            scores, threshold = detector.score(degraded, proba if with_model else None)
            unknown = scores > threshold
        seconds = time.perf_counter() - start
        m = measures(proba, labels, unknown)
        shown.append(row_text(condition.name, m, seconds))
        records.append(
            {"condition": condition.name, "kind": condition.kind, "value": condition.value,
             "images": len(images), **m, "seconds": round(seconds, 1)}
        )  # fmt: skip
    print(table(COLUMNS, shown))
    print("accuracy: of the most probable class, every image counted; seconds: degrade, "
          "predict and score the condition's images")  # fmt: skip
    if args.out:
        write_csv(args.out, records)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
