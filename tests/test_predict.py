"""Rule predict's functions: reading a folder of new images, KNN and ensemble predictions."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import separable

from deepfake.features import hsv_histograms
from deepfake.ingest import DataError
from deepfake.io import save_arrays
from deepfake.knn import knn_proba
from deepfake.predict import (
    COLUMNS,
    choose_model,
    list_images,
    model_proba,
    predictions_table,
    read_images,
)


def mixed_folder(folder, real_images):
    """Real PNGs re-encoded in other formats and modes, a broken file, a hidden file
    and a sub-folder."""
    folder.mkdir()
    bgr = cv2.imread(str(real_images[0][0]))
    assert cv2.imwrite(str(folder / "a_plain.png"), bgr)
    assert cv2.imwrite(str(folder / "b_big.jpg"), cv2.resize(bgr, (256, 192)))
    assert cv2.imwrite(
        str(folder / "c_gray16.png"),
        cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257,
    )
    assert cv2.imwrite(str(folder / "d_rgba.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    assert cv2.imwrite(str(folder / "f_photo.webp"), bgr)
    (folder / "e_broken.png").write_bytes(b"\x89PNG not really")
    (folder / ".hidden.png").write_bytes(b"")
    (folder / "sub").mkdir()
    assert cv2.imwrite(str(folder / "sub" / "x.png"), bgr)
    return bgr


def test_folder_is_read_as_ingest_reads_it(tmp_path, real_images, caplog):
    bgr = mixed_folder(tmp_path / "new", real_images)
    with caplog.at_level(logging.WARNING):
        new = read_images(tmp_path / "new")
    assert new.names == [
        "a_plain.png",
        "b_big.jpg",
        "c_gray16.png",
        "d_rgba.png",
        "e_broken.png",
        "f_photo.webp",
    ]
    assert new.decoded.tolist() == [True, True, True, True, False, True]
    assert new.images.shape == (5, 100, 100, 3) and new.images.dtype == np.uint8
    assert np.array_equal(new.images[0], cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert "not a decodable image" in new.errors[4]
    messages = caplog.text
    for name, what in [
        ("b_big.jpg", "resized"),
        ("c_gray16.png", "grayscale"),
        ("c_gray16.png", "uint16"),
        ("d_rgba.png", "alpha"),
    ]:
        assert any(name in line and what in line for line in messages.splitlines()), (name, what)
    assert "1 of 6 files could not be decoded" in messages


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="prediction folder missing"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_text("")
    with pytest.raises(DataError, match="holds no image files"):
        list_images(tmp_path / "empty")


def test_table_has_one_row_per_file_and_empty_label_on_error(tmp_path, real_images):
    mixed_folder(tmp_path / "new", real_images)
    new = read_images(tmp_path / "new")
    proba = np.eye(5, dtype=np.float32)[[1, 2, 3, 4, 0]]
    table = predictions_table(new, proba, "knn/hsv16")
    assert table.columns.tolist() == COLUMNS
    assert table["label"].tolist()[:4] == [1, 2, 3, 4] and table["label"].iloc[5] == 0
    assert pd.isna(table["label"].iloc[4]) and table["proba_0"].isna().iloc[4]
    assert table["error"].drop(4).eq("").all() and table["error"].iloc[4]
    assert table["model"].eq("knn/hsv16").all()


def knn_results(root, data, bins=4, k=3):
    """A results/ folder as the workflow leaves it for two KNN models and an ensemble."""
    save_arrays(
        root / "arrays" / "train.npz",
        images=data["image"],
        ids=np.arange(len(data["label"])).astype(str),
        labels=data["label"],
    )
    (root / "features" / f"hsv{bins}").mkdir(parents=True)
    np.save(root / "features" / f"hsv{bins}" / "train.npy", hsv_histograms(data["image"], bins))
    for name in (f"hsv{bins}", "pixels"):
        (root / "knn" / name).mkdir(parents=True)
        (root / "knn" / name / "metrics.json").write_text(json.dumps({"best_k": k}))
    (root / "ensemble" / "both").mkdir(parents=True)
    (root / "ensemble" / "both" / "metrics.json").write_text(
        json.dumps({"members": [f"knn/hsv{bins}", "knn/pixels"]})
    )


def test_knn_and_ensemble_predictions(tmp_path):
    train, new = separable(60, seed=1), separable(8, seed=2)
    knn_results(tmp_path, train)
    hsv = model_proba("knn/hsv4", new["image"], tmp_path)
    pixels = model_proba("knn/pixels", new["image"], tmp_path)
    expected = knn_proba(
        hsv_histograms(train["image"], 4), train["label"], hsv_histograms(new["image"], 4), 3
    )
    assert np.array_equal(hsv, expected)
    assert (pixels.argmax(1) == new["label"]).mean() >= 0.75  # separable colours
    assert np.allclose(model_proba("ensemble/both", new["image"], tmp_path), (hsv + pixels) / 2)


def test_choose_model():
    summary = pd.DataFrame({"model": ["cnn", "knn", "cnn"], "variant": ["b", "hsv16", "a"]})
    assert choose_model(summary, "best") == "cnn/b"
    assert choose_model(summary, "knn") == "knn/hsv16"
    assert choose_model(summary, "cnn/a") == "cnn/a"
    with pytest.raises(ValueError, match="not a row of the summary"):
        choose_model(summary, "ensemble")
