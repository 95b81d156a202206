"""Attribute a folder of new images with a trained model (rule ``predict``).

Images are read and converted as ingest converts them (any size, grayscale,
alpha, 16-bit; a warning per conversion); a file that cannot be decoded gets a
row with an empty label and the reason in ``error`` instead of stopping the run.

A model is named as its results/ sub-folder: ``cnn/<variant>``, ``knn/<features>``
or ``ensemble/<name>`` (whose ``metrics.json`` lists its ``members``; its
probabilities are the mean of theirs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from deepfake import IMAGE_SIZE, N_CLASSES
from deepfake.features import descriptor, hsv_histograms, parse_feature_name, pixel_features
from deepfake.ingest import DataError, read_bgr

log = logging.getLogger(__name__)

COLUMNS = ["image_id", "label", "model", *[f"proba_{c}" for c in range(N_CLASSES)], "error"]

# The CNN's inputs, computed from uint8 RGB images and the variant's params, by
# input name. A model input not listed here is an error; a new input is one line.
CNN_INPUTS: dict[str, Callable[[np.ndarray, Mapping], np.ndarray]] = {
    "image": lambda images, params: images,
    "hist": lambda images, params: hsv_histograms(images, int(params["bins"])),
    "freq": lambda images, params: descriptor(params["fingerprint"], images),
}


@dataclass(frozen=True)
class NewImages:
    """The decodable images of a folder (RGB uint8) and every file's name and error."""

    images: np.ndarray
    names: list[str]  # every file, sorted by name
    errors: list[str]  # "" where decoded
    decoded: np.ndarray  # bool per file


def list_images(folder: str | Path) -> list[Path]:
    """The files of ``folder`` sorted by name; hidden files and sub-folders left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: prediction folder missing (set predict_dir)")
    files = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()),
        key=lambda p: p.name,
    )
    if not files:
        raise DataError(f"{folder}: prediction folder holds no image files")
    return files


def read_images(folder: str | Path) -> NewImages:
    """Decode every file of ``folder``; undecodable files are recorded, not raised."""
    paths = list_images(folder)
    images, errors = [], []
    for path in paths:
        try:
            image, note = read_bgr(path)
        except DataError as exc:
            errors.append(str(exc).removeprefix(f"{path}: "))
            continue
        if note:
            log.warning("%s: %s", path, note)
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        errors.append("")
    decoded = np.array([not e for e in errors])
    if not decoded.all():
        log.warning(
            "%d of %d files could not be decoded and are skipped", (~decoded).sum(), len(paths)
        )
    stack = np.stack(images) if images else np.empty((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return NewImages(stack, [p.name for p in paths], errors, decoded)


def _metrics(model_dir: Path) -> dict:
    path = model_dir / "metrics.json"
    if not path.exists():
        raise DataError(f"{path}: no trained model there (run the workflow first)")
    return json.loads(path.read_text())


def cnn_proba(model_dir: Path, images: np.ndarray) -> np.ndarray:
    """Probabilities of the CNN saved in ``model_dir`` (model.keras, metrics.json params)."""
    import keras

    from deepfake.train import predict_proba

    params = _metrics(model_dir)["params"]
    model = keras.models.load_model(model_dir / "model.keras", compile=False)
    names = [t.name for t in model.inputs]
    unknown = sorted(set(names) - set(CNN_INPUTS))
    if unknown:
        raise ValueError(f"{model_dir}/model.keras: no way to compute input(s) {unknown}")
    split = {name: CNN_INPUTS[name](images, params) for name in names}
    # The same test-time transforms as the variant's validation and test predictions.
    return predict_proba(model, split, tta=params.get("tta", []))


def knn_proba_new(model_dir: Path, images: np.ndarray, results: Path) -> np.ndarray:
    """Probabilities of the KNN in ``model_dir``: its best k over the training features."""
    from deepfake.knn import knn_proba

    features = model_dir.name
    k = int(_metrics(model_dir)["best_k"])
    kind, bins = parse_feature_name(features)
    with np.load(results / "arrays" / "train.npz") as arrays:
        train_y = arrays["labels"]
        if kind == "pixels":
            train_x, query = pixel_features(arrays["images"]), pixel_features(images)
    if kind == "hsv":
        train_x = np.load(results / "features" / features / "train.npy")
        query = hsv_histograms(images, bins)
    return knn_proba(train_x, train_y, query, k)


def model_proba(model: str, images: np.ndarray, results: str | Path = "results") -> np.ndarray:
    """Probabilities (N, 5) of the model named ``family/name`` for RGB uint8 ``images``."""
    results = Path(results)
    family = model.split("/")[0]
    model_dir = results / model
    if len(images) == 0:
        return np.empty((0, N_CLASSES), np.float32)
    if family == "cnn":
        return cnn_proba(model_dir, images)
    if family == "knn":
        return knn_proba_new(model_dir, images, results)
    if family == "ensemble":
        members = _metrics(model_dir)["members"]
        return np.mean([model_proba(m, images, results) for m in members], axis=0)
    raise ValueError(f"unknown model {model!r}: expected cnn/..., knn/... or ensemble/...")


def choose_model(summary: pd.DataFrame, wanted: str) -> str:
    """The summary row to predict with: ``best`` (the first row), ``family`` (its best
    row) or ``family/name``; an unknown name is an error listing the rows."""
    names = [f"{m}/{v}" for m, v in zip(summary["model"], summary["variant"], strict=True)]
    if wanted == "best":
        return names[0]
    matches = [n for n in names if n == wanted or n.split("/")[0] == wanted]
    if not matches:
        raise ValueError(f"predict_model {wanted!r} is not a row of the summary: {names}")
    return matches[0]


def predictions_table(new: NewImages, proba: np.ndarray, model: str) -> pd.DataFrame:
    """One row per file: file name, label, model, probabilities, error."""
    full = np.full((len(new.names), N_CLASSES), np.nan, dtype=np.float64)
    full[new.decoded] = proba
    labels = pd.array([pd.NA] * len(new.names), dtype="Int64")
    labels[new.decoded] = proba.argmax(1)
    table = pd.DataFrame({"image_id": new.names, "label": labels, "model": model})
    for c in range(N_CLASSES):
        table[f"proba_{c}"] = full[:, c]
    table["error"] = new.errors
    return table[COLUMNS]
