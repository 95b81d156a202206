"""Ingest one split: validate its CSV and images, resize to 100x100 RGB uint8.

Every fault raises :class:`DataError` with the file (and CSV row) it concerns,
so a bad data folder stops the run with one message that says what to fix.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake import IMAGE_SIZE, N_CLASSES

log = logging.getLogger(__name__)


class DataError(ValueError):
    """The input data folder breaks the competition's layout."""


@dataclass(frozen=True)
class Split:
    """One split in memory: uint8 images (N, 100, 100, 3) RGB, ids, labels (-1: none)."""

    images: np.ndarray
    ids: np.ndarray
    labels: np.ndarray
    hashes: np.ndarray | None = None  # of each file's bytes, for duplicates across splits


def read_split_csv(csv_path: str | os.PathLike, labelled: bool) -> pd.DataFrame:
    """Read and validate ``train.csv``/``validation.csv`` (labelled) or ``test.csv``.

    Returns a frame with ``image_id`` (str) and, when labelled, ``label`` (int).
    """
    csv_path = Path(csv_path)
    expected = ["image_id", "label"] if labelled else ["image_id"]
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{csv_path}: the file is empty (expected header {','.join(expected)})"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv_path}: not a readable CSV file ({exc})") from exc
    columns = [c.strip() for c in frame.columns]
    if columns[: len(expected)] != expected:
        raise DataError(
            f"{csv_path}: header is {','.join(columns)!r}, expected {','.join(expected)!r}"
        )
    frame.columns = columns
    if len(columns) > len(expected):  # a fold id, a note: not ours to read
        log.warning("%s: extra column(s) %s ignored", csv_path, ", ".join(columns[len(expected) :]))
        frame = frame[expected].copy()
    if frame.empty:
        raise DataError(f"{csv_path}: no rows below the header")
    frame["image_id"] = frame["image_id"].str.strip()
    for row, image_id in enumerate(frame["image_id"], start=2):  # row 1 is the header
        _check_image_id(csv_path, row, image_id)
    duplicated = frame["image_id"].duplicated(keep="first")
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0]) + 2
        raise DataError(
            f"{csv_path}, row {row}: duplicate image_id {frame['image_id'].iloc[row - 2]!r}"
        )
    if labelled:
        frame["label"] = [
            _parse_label(csv_path, row, text) for row, text in enumerate(frame["label"], start=2)
        ]
    return frame


def _check_image_id(csv_path: Path, row: int, image_id: str) -> None:
    if not image_id:
        raise DataError(f"{csv_path}, row {row}: empty image_id")
    if (
        "/" in image_id
        or "\\" in image_id
        or image_id in (".", "..")
        or image_id.startswith("..")
        or os.path.isabs(image_id)
        or "\x00" in image_id
    ):
        raise DataError(
            f"{csv_path}, row {row}: image_id {image_id!r} is not a plain file name "
            "(path separators, '..' and absolute paths are rejected)"
        )


def _parse_label(csv_path: Path, row: int, text: str) -> int:
    text = text.strip()
    try:
        label = int(text)
    except ValueError:
        raise DataError(
            f"{csv_path}, row {row}: label {text!r} is not an integer in 0..{N_CLASSES - 1}"
        ) from None
    if not 0 <= label < N_CLASSES:
        raise DataError(f"{csv_path}, row {row}: label {label} is outside 0..{N_CLASSES - 1}")
    return label


def read_bgr(path: Path, size: int = IMAGE_SIZE) -> tuple[np.ndarray, str | None]:
    """Decode one image file as uint8 ``size`` x ``size`` x 3, in OpenCV's BGR order
    (ingest converts whole splits to RGB at once).

    Returns the image and a warning when it had to be converted (grayscale,
    alpha channel, 16-bit depth, other size), or raises :class:`DataError`.
    """
    found = read_image_file(path, size)
    return found.image, found.note


def read_bgr_hashed(path: Path, size: int = IMAGE_SIZE) -> tuple[np.ndarray, str | None, str]:
    """:func:`read_bgr`, plus a hash of the file's bytes (read once, decoded from memory)."""
    found = read_image_file(path, size)
    return found.image, found.note, found.digest


@dataclass(frozen=True)
class ImageFile:
    """One decoded image file: the image as the models read it and what it was before."""

    image: np.ndarray  # BGR uint8 (size, size, 3)
    note: str | None  # the conversions it needed ("converted to RGB: ..."), or None
    digest: str  # hash of the file's bytes
    native: np.ndarray  # BGR uint8 (H, W, 3) at the file's own size, before any resize
    data_head: bytes  # the file's first bytes (its format's magic number)


def read_image_file(path: Path, size: int = IMAGE_SIZE) -> ImageFile:
    """Read and decode one image file (the bytes read once, decoded from memory), convert
    it to 8-bit BGR and resize it to ``size`` x ``size``; raises :class:`DataError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError:
        raise DataError(_unreadable(path)) from None
    digest = hashlib.blake2b(data, digest_size=12).hexdigest()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise DataError(_unreadable(path))
    native, notes = _to_bgr8(path, image)
    image = native
    if image.shape[:2] != (size, size):
        notes.append(f"{image.shape[1]}x{image.shape[0]} resized to {size}x{size}")
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    note = ("converted to RGB: " + ", ".join(notes)) if notes else None
    return ImageFile(image, note, digest, native, data[:16])


def _to_bgr8(path: Path, image: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A decoded image as 8-bit, 3-channel BGR at its own size, and the conversions made."""
    notes = []
    if image.dtype != np.uint8:
        notes.append(f"{image.dtype} depth")
        image = (image / (np.iinfo(image.dtype).max / 255.0)).round().astype(np.uint8)
    if image.ndim == 2:
        notes.append("grayscale")
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        notes.append("alpha channel dropped")
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.shape[2] != 3:
        raise DataError(f"{path}: unsupported image with {image.shape[2]} channels")
    return image, notes


def _unreadable(path: Path) -> str:
    """Why OpenCV could not read ``path`` (it only says None)."""
    if not path.exists():
        return f"{path}: listed in the CSV but the file does not exist"
    if not os.access(path, os.R_OK):
        return f"{path}: cannot be read (permission denied)"
    return f"{path}: not a decodable image (truncated, empty or not an image file)"


def ingest_split(
    csv_path: str | os.PathLike, image_dir: str | os.PathLike, labelled: bool, threads: int = 1
) -> Split:
    """Validate a split's CSV and every image it lists; return the images in memory.

    Images are decoded by ``threads`` threads (OpenCV releases the GIL while
    decoding); a fault is reported for the first bad file in CSV order.
    """
    csv_path, image_dir = Path(csv_path), Path(image_dir)
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: image folder missing (listed by {csv_path})")
    frame = read_split_csv(csv_path, labelled)
    ids = frame["image_id"].to_numpy(dtype=str)
    images = np.empty((len(ids), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    paths = [image_dir / f"{image_id}.png" for image_id in ids]
    warnings = []
    hashes = np.empty(len(ids), dtype="U24")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        decoded = pool.map(read_bgr_hashed, paths) if threads > 1 else map(read_bgr_hashed, paths)
        for i, (image, note, digest) in enumerate(decoded):
            images[i] = image
            hashes[i] = digest
            if note:
                warnings.append(f"{paths[i]}: {note}")
    flat = images.reshape(-1, IMAGE_SIZE, 3)  # one conversion for the whole split
    cv2.cvtColor(flat, cv2.COLOR_BGR2RGB, dst=flat)
    for warning in warnings[:20]:
        log.warning(warning)
    if len(warnings) > 20:
        log.warning("%d images of %s were converted (first 20 listed)", len(warnings), image_dir)
    _report_unlisted(image_dir, set(ids), csv_path)
    labels = frame["label"].to_numpy(dtype=np.int64) if labelled else np.full(len(ids), -1)
    log.info("%s: %d images ingested from %s", csv_path.name, len(ids), image_dir)
    return Split(images=images, ids=ids, labels=labels.astype(np.int64), hashes=hashes)


def duplicates_across_splits(splits: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """Byte-identical images under different ids in different splits, one line each
    (``splits``: name -> arrays with ``ids`` and ``hashes``)."""
    first: dict[str, tuple[str, str]] = {}
    found = []
    for name, arrays in splits.items():
        for image_id, digest in zip(arrays["ids"], arrays["hashes"], strict=True):
            # The same id in two splits is the dev split's test = validation, not a copy.
            if digest in first and first[digest][0] != name and first[digest][1] != image_id:
                found.append(f"{first[digest][0]}/{first[digest][1]} = {name}/{image_id}")
            first.setdefault(digest, (name, image_id))
    return found


def _report_unlisted(image_dir: Path, listed: set[str], csv_path: Path) -> None:
    """Files in the folder that the CSV does not list are never used; say so."""
    unlisted = sorted(
        entry.name
        for entry in os.scandir(image_dir)
        if not entry.name.startswith(".")  # hidden files (Snakemake's markers) are no data
        and not (entry.name.endswith(".png") and entry.name[:-4] in listed)
    )
    if unlisted:
        log.warning(
            "%s: %d file(s) not listed in %s are ignored, e.g. %s",
            image_dir,
            len(unlisted),
            csv_path.name,
            ", ".join(unlisted[:5]),
        )
