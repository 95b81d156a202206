"""Attribute a folder of new images with a trained model (rule ``predict``).

The model is loaded from its folder (:func:`deepfake.models.load`), the one
inference path every rule uses. The folder is streamed: its files are decoded
and predicted a chunk at a time (:data:`CHUNK` images, about 30 MB of pixels),
and each chunk's rows are appended to the CSV, so a folder of a million images
needs no more memory than one of a thousand.

Images are read and converted as ingest converts them (any size, grayscale,
alpha, 16-bit; a warning per conversion); a file that cannot be decoded gets a
row with an empty label and the reason in ``error`` instead of stopping the run.
File names come back as they are (spaces, commas, quotes, non-ASCII letters: the
CSV quotes what needs quoting), and each probability as the shortest decimal that
reads back as the same float32, so the CSV holds the model's very numbers.
"""

from __future__ import annotations

import csv
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake import IMAGE_SIZE, N_CLASSES
from deepfake.ingest import DataError, read_bgr
from deepfake.io import atomic_path

log = logging.getLogger(__name__)

COLUMNS = [
    "image_id",
    "label",
    "model",
    *[f"proba_{c}" for c in range(N_CLASSES)],
    "warning",
    "error",
]
DEMO_WARNING = "model trained on the synthetic demo data: its answers mean nothing"
CHUNK = 1024  # images decoded and predicted at a time


@dataclass(frozen=True)
class NewImages:
    """The decodable images of some files (RGB uint8) and every file's name and error."""

    images: np.ndarray
    names: list[str]  # every file, in the order given
    errors: list[str]  # "" where decoded
    decoded: np.ndarray  # bool per file


def list_images(folder: str | Path) -> list[str]:
    """The entries of ``folder`` that predict answers for, sorted by name: every visible
    entry but sub-folders (a file that cannot be read still gets a row, with the
    reason). An empty or missing folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: prediction folder missing (set predict_dir)")
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith(".") and not _is_dir(e))
    if not names:
        raise DataError(f"{folder}: prediction folder holds no files")
    return names


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _not_a_file(path: Path) -> str:
    """Why ``path`` cannot be read as an image file before opening it ("" if it can be
    tried): a broken link, a special file (opening a named pipe would wait forever)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link (its target does not exist)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device)"
    return ""


def _decode(path: Path) -> tuple[np.ndarray | None, str]:
    if reason := _not_a_file(path):
        return None, reason
    try:
        image, note = read_bgr(path)
    except DataError as exc:
        return None, str(exc).removeprefix(f"{path}: ")
    if note:
        log.warning("%s: %s", path, note)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), ""


def read_images(folder: str | Path, names: Sequence[str], threads: int = 1) -> NewImages:
    """Decode the files ``names`` of ``folder``; undecodable ones are recorded, not raised."""
    paths = [Path(folder) / name for name in names]
    with ThreadPoolExecutor(max(1, threads)) as pool:  # OpenCV decodes without the GIL
        decoded = list(pool.map(_decode, paths))
    images = [image for image, _ in decoded if image is not None]
    errors = [error for _, error in decoded]
    stack = np.stack(images) if images else np.empty((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return NewImages(stack, list(names), errors, np.array([not e for e in errors], dtype=bool))


def chunks(folder: str | Path, size: int = CHUNK, threads: int = 1) -> Iterator[NewImages]:
    """The folder's files, decoded ``size`` at a time, in name order."""
    names = list_images(folder)
    for start in range(0, len(names), size):
        yield read_images(folder, names[start : start + size], threads)


def _exact(value: np.float32) -> str:
    """The shortest text that reads back as the same float32 (0.33333334, 1, 0)."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def warning_of(card: dict) -> str:
    """The warning every row of a model's predictions carries ("" for none): a model
    trained on the synthetic demo set says nothing about real images."""
    return DEMO_WARNING if (card.get("data") or {}).get("demo") else ""


def rows(new: NewImages, proba: np.ndarray, model: str, warning: str = "") -> Iterator[list]:
    """One CSV row per file: name, label, model, probabilities, warning, error (empty
    label and probabilities where the file could not be decoded)."""
    if len(proba) != int(new.decoded.sum()):
        raise ValueError(f"{len(proba)} predictions for {int(new.decoded.sum())} images")
    predicted = iter(proba)
    for name, ok, error in zip(new.names, new.decoded, new.errors, strict=True):
        if ok:
            p = next(predicted)
            yield [name, int(p.argmax()), model, *map(_exact, p), warning, ""]
        else:
            yield [name, "", model, *([""] * N_CLASSES), warning, error]


def predict_folder(
    model,
    name: str,
    folder: str | Path,
    out: str | Path,
    size: int = CHUNK,
    threads: int = 1,
    warning: str = "",
) -> dict:
    """Write ``out`` (CSV, :data:`COLUMNS`) with ``model``'s attribution of every file of
    ``folder``, chunk by chunk, atomically; returns counts of files and failures.
    ``warning``: a note every row carries (:func:`warning_of` the model's card)."""
    files = failed = 0
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for new in chunks(folder, size, threads):
            proba = (
                model.predict_proba(new.images)
                if len(new.images)
                else np.empty((0, N_CLASSES), np.float32)
            )
            writer.writerows(rows(new, proba, name, warning))
            files += len(new.names)
            failed += int((~new.decoded).sum())
            log.info("%d files predicted, %d could not be decoded", files, failed)
        handle.flush()
    return {"files": files, "failed": failed}
