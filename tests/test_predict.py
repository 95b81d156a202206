"""Rule predict's functions: a folder streamed through any saved model, file names kept,
undecodable files reported, and a model's saved folder giving back its own numbers."""

from __future__ import annotations

import csv
import logging
import os

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import separable

from deepfake.datafolder import prediction_files
from deepfake.descriptors import descriptor, hsv_histograms
from deepfake.ensemble import EnsembleModel
from deepfake.families import load
from deepfake.knn_model import KnnModel
from deepfake.knn_search import combine, group_scales, knn_proba
from deepfake.predict import COLUMNS, JPEG_FILE, chunks, predict_folder, read_images
from deepfake.unknowns import UnknownDetector


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
        new = read_images(tmp_path / "new", prediction_files(tmp_path / "new"))
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


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="nope: no such folder"):
        prediction_files(tmp_path / "nope")
    with pytest.raises(ValueError, match="set --config predict_dir="):
        prediction_files("")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_text("")
    with pytest.raises(ValueError, match="holds no files"):
        prediction_files(tmp_path / "empty")


def read_predictions(path):
    return pd.read_csv(path, keep_default_na=False, dtype={"image_id": str})


def save_knn(root, name, descriptors, train, k=3, voting="uniform", weights=None):
    """A KNN model folder as the knn rule writes it."""
    groups = [descriptor(d, train["image"]) for d in descriptors]
    scales = None if weights is None else group_scales(groups)
    model = KnnModel.fit(descriptors, groups, train["label"], k, voting, scales, weights)
    model.save(root / "knn" / name)
    return model


def test_table_has_one_row_per_file_and_empty_label_on_error(tmp_path, real_images):
    mixed_folder(tmp_path / "new", real_images)
    train = separable(60, seed=1)
    save_knn(tmp_path / "results", "hsv16", ["hsv16"], train)
    model = load(tmp_path / "results" / "knn" / "hsv16")
    counts = predict_folder(model, "knn/hsv16", tmp_path / "new", tmp_path / "p.csv", size=2)
    assert counts == {"files": 6, "failed": 1, "unknown": 1}  # b_big.jpg: shrunk 2.56x
    table = read_predictions(tmp_path / "p.csv")
    assert table["label"].tolist()[1] == "unknown"
    warnings = dict(zip(table["image_id"], table["warning"], strict=True))
    assert warnings["a_plain.png"] == "" and warnings["f_photo.webp"] == ""  # lossless WebP
    assert warnings["b_big.jpg"] == (
        f"{JPEG_FILE}; converted to RGB: 256x192 resized to 100x100; shrunk 2.56x from "
        "256x192: more than 2x keeps no generator's fingerprint, so it is answered unknown"
    )
    assert warnings["c_gray16.png"] == "converted to RGB: uint16 depth, grayscale"
    assert warnings["d_rgba.png"] == "converted to RGB: alpha channel dropped"
    assert warnings["e_broken.png"] == ""
    assert table.columns.tolist() == COLUMNS
    assert table["image_id"].tolist()[4] == "e_broken.png"
    assert table["label"].iloc[4] == "" and table["proba_0"].iloc[4] == ""
    assert "not a decodable image" in table["error"].iloc[4]
    assert table["error"].drop(4).eq("").all() and table["model"].eq("knn/hsv16").all()
    new = read_images(tmp_path / "new", prediction_files(tmp_path / "new"))
    expected = model.predict_proba(new.images)
    got = table.drop(4)[[f"proba_{c}" for c in range(5)]].astype(np.float32).to_numpy()
    np.testing.assert_array_equal(got, expected)  # the CSV holds the very float32 values


NAMES = ["plain.png", "with space.png", "comma,name.png", 'quote"d.png', "zoë_ø.png"]


def test_odd_file_names_come_back_unchanged_and_chunks_bound_memory(tmp_path, real_images):
    folder = tmp_path / "odd"
    folder.mkdir()
    bgr = cv2.imread(str(real_images[1][0]))
    for i, name in enumerate(NAMES * 3):
        name = f"{i:02d} {name}"
        (folder / name).write_bytes(cv2.imencode(".png", np.roll(bgr, i, axis=1))[1].tobytes())
    sizes = [len(c.names) for c in chunks(folder, size=4)]
    assert sizes == [4, 4, 4, 3]  # never more than a chunk decoded at a time
    train = separable(40, seed=3)
    save_knn(tmp_path / "results", "pixels", ["pixels"], train, k=1)
    model = load(tmp_path / "results" / "knn" / "pixels")
    predict_folder(model, "knn/pixels", folder, tmp_path / "p.csv", size=4)
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as handle:
        names = [row["image_id"] for row in csv.DictReader(handle)]
    assert names == sorted(p.name for p in folder.iterdir())
    assert {n.split(" ", 1)[1] for n in names} == set(NAMES)


@pytest.mark.parametrize("voting", ["uniform", "distance"])
def test_saved_knn_models_predict_as_they_were_fitted(tmp_path, voting):
    train, new = separable(80, seed=1), separable(12, seed=2)
    root = tmp_path / "results"
    single = save_knn(root, "hsv4", ["hsv4"], train, voting=voting)
    combo = save_knn(
        root, "combo", ["jointhsv", "lbp"], train, k=5, voting=voting, weights=[1, 0.5]
    )
    got = load(root / "knn" / "hsv4").predict_proba(new["image"])
    expected = knn_proba(
        hsv_histograms(train["image"], 4),
        train["label"],
        hsv_histograms(new["image"], 4),
        3,
        voting,
    )
    np.testing.assert_array_equal(got, expected)
    groups = [descriptor(d, train["image"]) for d in ("jointhsv", "lbp")]
    queries = [descriptor(d, new["image"]) for d in ("jointhsv", "lbp")]
    scales = group_scales(groups)
    expected = knn_proba(
        combine(groups, scales, [1, 0.5]),
        train["label"],
        combine(queries, scales, [1, 0.5]),
        5,
        voting,
    )
    np.testing.assert_array_equal(
        load(root / "knn" / "combo").predict_proba(new["image"]), expected
    )
    assert single.voting == voting and combo.group_weights == (1.0, 0.5)
    # an ensemble of both: the mean of its members, members found beside it
    EnsembleModel.save(root / "ensemble" / "both", ["knn/hsv4", "knn/combo"])
    both = load(root / "ensemble" / "both").predict_proba(new["image"])
    np.testing.assert_allclose(both, (got + expected) / 2, atol=1e-7)


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trained model there"):
        load(tmp_path / "results" / "knn" / "nope")


def test_entries_that_cannot_be_read_get_a_row_with_the_reason(tmp_path, real_images):
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "a.png").write_bytes(real_images[0][0].read_bytes())
    (folder / "b_gone.png").symlink_to(tmp_path / "nowhere.png")  # a broken link
    os.mkfifo(folder / "c_pipe.png")  # reading it would wait forever
    (folder / "d_sub").mkdir()  # a sub-folder: not an entry to answer for
    (folder / "d_sub" / "x.png").write_bytes(b"x")
    train = separable(60, seed=1)
    save_knn(tmp_path / "results", "hsv16", ["hsv16"], train)
    model = load(tmp_path / "results" / "knn" / "hsv16")
    counts = predict_folder(model, "knn/hsv16", folder, tmp_path / "p.csv")
    assert counts == {"files": 3, "failed": 2, "unknown": 0}
    table = read_predictions(tmp_path / "p.csv").set_index("image_id")
    assert table.index.tolist() == ["a.png", "b_gone.png", "c_pipe.png"]
    assert "broken symbolic link" in table.loc["b_gone.png", "error"]
    assert "not a regular file" in table.loc["c_pipe.png", "error"]
    assert table.loc["a.png", "error"] == "" and table.loc["a.png", "label"] != ""


def test_images_far_from_the_training_images_are_called_unknown(tmp_path, real_images):
    """A detector fitted on real images calls flat synthetic squares unknown, keeps their
    probabilities, and leaves most real images of its own kind alone."""
    real = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                     for paths in real_images.values() for p in paths])  # fmt: skip
    names = ("cooc", "spectrum")
    groups = [descriptor(n, real) for n in names]
    detector = UnknownDetector.fit(names, [g[:80] for g in groups], [g[80:] for g in groups],
                                   dims=8, k=3, quantile=0.95)  # fmt: skip
    folder = tmp_path / "new"
    folder.mkdir()
    for i, colour in enumerate([(10, 200, 30), (250, 250, 250)]):
        flat = np.full((100, 100, 3), colour, np.uint8)
        cv2.imwrite(str(folder / f"flat{i}.png"), flat)
    for path in real_images[2][:3]:  # images the detector saw in its fit
        (folder / path.name).write_bytes(path.read_bytes())
    train = separable(60, seed=1)
    save_knn(tmp_path / "results", "hsv16", ["hsv16"], train)
    model = load(tmp_path / "results" / "knn" / "hsv16")
    counts = predict_folder(
        model, "knn/hsv16", folder, tmp_path / "p.csv", warning="note", detector=detector
    )
    table = read_predictions(tmp_path / "p.csv").set_index("image_id")
    assert table.loc[["flat0.png", "flat1.png"], "label"].eq("unknown").all()
    assert counts["unknown"] >= 2
    real_rows = table.drop(["flat0.png", "flat1.png"])
    assert real_rows["label"].ne("unknown").all()
    scores = table["unknown_score"].astype(float)
    assert (
        scores[["flat0.png", "flat1.png"]].min()
        > detector.distance_threshold  # fitted without a model: the distance alone
        > scores[real_rows.index].max()
    )
    probas = table[[f"proba_{c}" for c in range(5)]].astype(float)
    np.testing.assert_allclose(probas.sum(axis=1), 1.0, atol=1e-5)  # kept for every image
    assert table["warning"].eq("note").all()
