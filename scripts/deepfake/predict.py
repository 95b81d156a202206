"""Attribute a folder of new images with a trained model (rule ``predict``).

The model is loaded from its folder (:func:`deepfake.models.load`), the one
inference path every rule uses. The folder is streamed: its files are decoded
and predicted a chunk at a time (:data:`CHUNK` images, about 30 MB of pixels),
and each chunk's rows are appended to the CSV, so a folder of a million images
needs no more memory than one of a thousand.

Images are read and converted as ingest converts them (any size, grayscale,
alpha, 16-bit); a file that cannot be decoded gets a row with an empty label and
the reason in ``error`` instead of stopping the run. Each row's ``warning`` says
what was done to or found in its image (:func:`findings`): a JPEG file, or JPEG
traces in its pixels (:mod:`deepfake.traces`), the conversions it needed; an image
shrunk by more than :data:`MAX_SHRINK` times is answered ``unknown``.
File names come back as they are (spaces, commas, quotes, non-ASCII letters: the
CSV quotes what needs quoting), and each probability as the shortest decimal that
reads back as the same float32, so the CSV holds the model's very numbers.
"""

from __future__ import annotations

import csv
import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake import IMAGE_SIZE, N_CLASSES
from deepfake.datafolder import prediction_files
from deepfake.ingest import DataError, ImageFile, read_image_file
from deepfake.io import atomic_path
from deepfake.traces import has_jpeg_traces, is_jpeg_file

log = logging.getLogger(__name__)

COLUMNS = [
    "image_id",
    "label",
    "model",
    *[f"proba_{c}" for c in range(N_CLASSES)],
    "unknown_score",
    "warning",
    "error",
]
UNKNOWN = "unknown"  # the label of an image far from every training image
DEMO_WARNING = "model trained on the synthetic demo data: its answers mean nothing"
CHUNK = 1024  # images decoded and predicted at a time
# An image shrunk by more than this factor to reach IMAGE_SIZE is answered unknown: the
# robustness benchmark measures a 2x round trip (docs/results.md: 0.857 against 0.937 as
# the images are, on the dev split), nothing beyond it, and a large photograph keeps no
# generator's fingerprint.
MAX_SHRINK = 2.0
JPEG_FILE = "a JPEG file: compression lowers the accuracy of the answer"
JPEG_TRACES = (
    "JPEG traces in its pixels (an 8x8 block grid): compression lowers the accuracy of the answer"
)


@dataclass(frozen=True)
class NewImages:
    """The decodable images of some files (RGB uint8) and every file's name and error."""

    images: np.ndarray
    names: list[str]  # every file, in the order given
    errors: list[str]  # "" where decoded
    decoded: np.ndarray  # bool per file
    warnings: list[str]  # per file: what was done to or found in its image ("" for none)
    shrunk: np.ndarray  # bool per file: shrunk by more than MAX_SHRINK (answered unknown)


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


def findings(found: ImageFile) -> tuple[str, bool]:
    """What a prediction says of one decoded file, "; "-separated ("" for nothing): a
    JPEG file or JPEG traces in its pixels, the conversions it needed, a shrink by more
    than :data:`MAX_SHRINK`; and whether it was shrunk that much (answered unknown)."""
    notes = []
    if is_jpeg_file(found.data_head):
        notes.append(JPEG_FILE)
    elif has_jpeg_traces(cv2.cvtColor(found.native, cv2.COLOR_BGR2RGB)):
        notes.append(JPEG_TRACES)
    if found.note:
        notes.append(found.note)
    height, width = found.native.shape[:2]
    factor = max(height, width) / IMAGE_SIZE
    shrunk = factor > MAX_SHRINK
    if shrunk:
        notes.append(
            f"shrunk {factor:.3g}x from {width}x{height}: more than {MAX_SHRINK:g}x keeps no "
            "generator's fingerprint, so it is answered unknown"
        )
    return "; ".join(notes), shrunk


def _decode(path: Path) -> tuple[np.ndarray | None, str, str, bool]:
    """One file's RGB image (None if it cannot be decoded), error, warning and shrink."""
    if reason := _not_a_file(path):
        return None, reason, "", False
    try:
        found = read_image_file(path)
    except DataError as exc:
        return None, str(exc).removeprefix(f"{path}: "), "", False
    if found.note:
        log.warning("%s: %s", path, found.note)
    warning, shrunk = findings(found)
    return cv2.cvtColor(found.image, cv2.COLOR_BGR2RGB), "", warning, shrunk


def read_images(folder: str | Path, names: Sequence[str], threads: int = 1) -> NewImages:
    """Decode the files ``names`` of ``folder``; undecodable ones are recorded, not raised."""
    paths = [Path(folder) / name for name in names]
    with ThreadPoolExecutor(max(1, threads)) as pool:  # OpenCV decodes without the GIL
        decoded = list(pool.map(_decode, paths))
    images = [image for image, *_ in decoded if image is not None]
    errors = [error for _, error, *_ in decoded]
    stack = np.stack(images) if images else np.empty((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return NewImages(
        stack,
        list(names),
        errors,
        np.array([not e for e in errors], dtype=bool),
        [warning for *_, warning, _ in decoded],
        np.array([shrunk for *_, shrunk in decoded], dtype=bool),
    )


def files_of(folder: str | Path) -> tuple[Path, list[str]]:
    """The folder and the names of the files to predict, in name order (``folder`` may
    also be one image file)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        return path.parent, [path.name]
    return path, prediction_files(path)


def chunks(
    folder: str | Path, size: int = CHUNK, threads: int = 1, names: Sequence[str] | None = None
) -> Iterator[NewImages]:
    """The folder's files (``names``, default :func:`files_of` it), decoded ``size`` at a
    time, in name order (``folder`` may also be one image file: a chunk of one)."""
    if names is None:
        folder, names = files_of(folder)
    for start in range(0, len(names), size):
        yield read_images(folder, names[start : start + size], threads)


def counts_line(counts: dict) -> str:
    """What a prediction run did, in one line."""
    predicted = counts["files"] - counts["failed"]
    files = f"{counts['files']} file{'s' if counts['files'] != 1 else ''}"
    return (
        f"{files}: {predicted} predicted ({counts['unknown']} unknown), "
        f"{counts['failed']} could not be read (see the error column)"
    )


def _exact(value: np.float32) -> str:
    """The shortest text that reads back as the same float32 (0.33333334, 1, 0)."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def warning_of(card: dict) -> str:
    """The warning every row of a model's predictions carries ("" for none): a model
    trained on the synthetic demo set says nothing about real images."""
    return DEMO_WARNING if (card.get("data") or {}).get("demo") else ""


def rows(
    new: NewImages,
    proba: np.ndarray,
    model: str,
    warning: str = "",
    scores: np.ndarray | None = None,
    threshold: float = np.inf,
) -> Iterator[list]:
    """One CSV row per file: name, label, model, probabilities, unknown score, warning,
    error. The label is the most probable class, or ``unknown`` where the score passes
    the threshold or the image was shrunk too far (the probabilities stay); empty
    label, probabilities and score where the file could not be decoded; empty score
    without a detector. The warning is the model's (``warning``), then the image's."""
    if len(proba) != int(new.decoded.sum()):
        raise ValueError(f"{len(proba)} predictions for {int(new.decoded.sum())} images")
    predicted = iter(proba)
    scored = iter(scores if scores is not None else [None] * len(proba))
    files = zip(new.names, new.decoded, new.errors, new.warnings, new.shrunk, strict=True)
    for name, ok, error, found, shrunk in files:
        said = "; ".join(text for text in (warning, found) if text)
        if ok:
            p, score = next(predicted), next(scored)
            far = score is not None and score > threshold
            label = UNKNOWN if far or shrunk else int(p.argmax())
            shown = "" if score is None else f"{score:.4f}"
            yield [name, label, model, *map(_exact, p), shown, said, ""]
        else:
            yield [name, "", model, *([""] * N_CLASSES), "", said, error]


def predict_folder(
    model,
    name: str,
    folder: str | Path,
    out: str | Path,
    size: int = CHUNK,
    threads: int = 1,
    warning: str = "",
    detector=None,
    with_model: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write ``out`` (CSV, :data:`COLUMNS`) with ``model``'s attribution of every file of
    ``folder`` (or of one image file), chunk by chunk, atomically; returns counts of
    files, failures and unknowns. ``warning``: a note every row carries
    (:func:`warning_of` the model's card); ``detector``: an
    :class:`deepfake.unknowns.UnknownDetector`, or None; ``with_model``: the detector
    was fitted with this model's uncertainty (its score then combines both);
    ``progress(files done, files in all)``: called after each chunk."""
    where, names = files_of(folder)  # listed once
    files = failed = unknown = 0
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for new in chunks(where, size, threads, names):
            proba = (
                model.predict_proba(new.images)
                if len(new.images)
                else np.empty((0, N_CLASSES), np.float32)
            )
            scores, threshold = None, np.inf
            if detector is not None and len(new.images):
                scores, threshold = detector.score(new.images, proba if with_model else None)
            written = list(rows(new, proba, name, warning, scores, threshold))
            writer.writerows(written)
            unknown += sum(row[1] == UNKNOWN for row in written)
            files += len(new.names)
            failed += int((~new.decoded).sum())
            if progress:
                progress(files, len(names))
        handle.flush()
    return {"files": files, "failed": failed, "unknown": unknown}


def predict_with(
    model_dir: str | Path,
    name: str,
    folder: str | Path,
    out: str | Path,
    detector: str | Path | None = None,
    threads: int = 1,
    backend: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Load the model folder ``model_dir`` (and the unknown-image detector, if given)
    and write ``out`` with its attribution of every file of ``folder``: what rule
    predict and the ``deepfake-predict`` command both do. Returns the counts."""
    from deepfake.families import FAMILIES, load, read_card

    card = read_card(model_dir)
    if FAMILIES[card["family"]].keras:  # threads and determinism before Keras loads
        from deepfake.backend import configure

        configure(threads=threads, deterministic=True, backend=backend)
    model = load(model_dir, threads=threads)
    log.info("model %s (%s), folder %s", name, model_dir, folder)
    warning = warning_of(card)
    if warning:
        log.warning("%s: %s", name, warning)
    found, with_model = None, False
    if detector:
        from deepfake.unknowns import UnknownDetector

        found = UnknownDetector.load(detector)
        # the detector's uncertainty is of one model: the one it was fitted with (a run's),
        # or the model folder it ships in
        shipped = Path(detector).resolve().parent == Path(model_dir).resolve()
        with_model = bool(found.model) and (found.model == name or shipped)
        log.info(
            "unknown above a score of %.3f (%s)",
            found.threshold if with_model else found.distance_threshold,
            "distance and uncertainty" if with_model else "distance",
        )
    return predict_folder(
        model, name, folder, out, threads=threads, warning=warning, detector=found,
        with_model=found is not None and with_model, progress=progress,
    )  # fmt: skip
