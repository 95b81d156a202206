"""A data folder in the competition's layout: checked before any job, fingerprinted
cheaply, and its splits kept disjoint. Standard library only: Snakemake imports it at
parse time.

The layout: ``train/``, ``validation/`` and ``test/`` of ``<image_id>.png``, and
``train.csv``, ``validation.csv`` (``image_id,label``) and ``test.csv`` (``image_id``).
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

from deepfake import SPLITS

DEMO = "demo"  # data_dir of the generated synthetic set
# What the competition's layout holds: a folder of images and a CSV per split.
LAYOUT = tuple(f"{split}/" for split in SPLITS) + tuple(f"{split}.csv" for split in SPLITS)


def check_data_folder(folder: str | os.PathLike) -> None:
    """Stop unless ``folder`` is in the competition's layout, naming the folder and
    everything missing from it (run at start-up, before any job)."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise ValueError(
            f"config data_dir: {folder}: {what} (expected a folder in the competition's "
            f"layout: {', '.join(LAYOUT)}; or data_dir: demo)"
        )
    missing = [name for name in LAYOUT if not _present(folder, name)]
    if missing:
        raise ValueError(
            f"config data_dir: {folder} is not in the competition's layout: missing "
            f"{', '.join(missing)} (expected {', '.join(LAYOUT)})"
        )


def _present(folder: Path, name: str) -> bool:
    """``name/`` a sub-folder of ``folder``, ``name`` a file of it."""
    if name.endswith("/"):
        return (folder / name.rstrip("/")).is_dir()
    return (folder / name).is_file()


def data_record(data_dir: str, demo: dict | None = None, refit: bool = False) -> dict:
    """What a model was trained on, as recorded in its folder: the demo set and its
    settings, or the data folder (absolute) with a fingerprint of its training images
    (:func:`folder_manifest`); with ``refit``, the validation images too (and their
    fingerprint)."""
    if data_dir == DEMO:
        record = {"data_dir": DEMO, "demo": True, "demo_settings": dict(demo or {})}
    else:
        folder = Path(data_dir).resolve()
        record = {"data_dir": str(folder), "demo": False}
        for split in ("train", "validation") if refit else ("train",):
            record[split] = folder_manifest(folder / split)
    return record | ({"validation_in_training": True} if refit else {})


def trained_on(data: dict | None, detail: bool = False) -> str:
    """A model's training data in a few words (its data record): ``demo (synthetic)`` or
    the data folder (``detail``: with its training images' fingerprint), and ``+
    validation`` when the validation images were trained on too."""
    if not data:
        return "unknown"
    words = "demo (synthetic)" if data.get("demo") else str(data["data_dir"])
    if detail and not data.get("demo"):
        words += f" ({data['train']})"
    return words + (" + validation" if data.get("validation_in_training") else "")


def folder_manifest(folder: str | os.PathLike) -> str:
    """A short fingerprint of a folder's visible entries: names, sizes, mtimes.

    One ``stat`` per entry (symbolic links followed), no reading: a file replaced in
    place changes it, and 20,000 files take milliseconds. An entry that cannot be
    stat'ed (a broken link, no permission) counts by its name and the error's kind,
    so a folder with one still has a fingerprint.
    """
    digest = hashlib.sha1()
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries if not entry.name.startswith("."))
    for name in names:
        try:
            stat = os.stat(os.path.join(folder, name))
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError as exc:
            digest.update(f"{name}\0{type(exc).__name__}\n".encode())
    return f"{len(names)} files, sha1 {digest.hexdigest()[:16]}"


def check_disjoint(train_csv, other_csvs) -> None:
    """Stop when an image_id of the training split is also listed by another split's
    CSV (leakage: it would inflate every validation figure), naming both rows.

    Validation and test may share ids: a dev split made by ``tools/make_split.py``
    lists its validation images as the (unlabelled) test split on purpose, so its
    submission can be scored. Standard library only: run at start-up, before any
    job, on every CSV that exists.
    """
    train_rows = dict(_csv_ids(Path(train_csv)))
    for csv_path in map(Path, other_csvs):
        for image_id, row in _csv_ids(csv_path):
            if image_id in train_rows:
                raise ValueError(
                    f"image_id {image_id!r} is in two splits: {train_csv}, row "
                    f"{train_rows[image_id]} and {csv_path}, row {row} "
                    "(leakage: remove it from one of them)"
                )


def _csv_ids(csv_path: Path):
    """(image_id, 1-based row) of a split's CSV, header skipped; nothing if absent."""
    if not csv_path.is_file():
        return
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as handle:
        for row, fields in enumerate(csv.reader(handle), start=1):
            if row > 1 and fields:
                yield fields[0].strip(), row


def prediction_files(folder: str | os.PathLike) -> list[str]:
    """The entries of a folder of new images that predict answers for, sorted by name:
    every visible entry but sub-folders (a file that cannot be read still gets a row,
    with the reason). A missing or empty folder is an error naming it, raised before
    any model loads."""
    if not os.fspath(folder):
        raise ValueError(
            "predict needs a folder of images: set --config predict_dir=/path/to/folder"
        )
    folder = Path(folder)
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise ValueError(f"{folder}: {what}")
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith(".") and not _is_dir(e))
    if not names:
        raise ValueError(f"{folder}: the folder holds no files to predict")
    return names


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
