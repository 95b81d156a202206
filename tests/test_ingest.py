"""Ingest and validation: every fault stops with the file (and row) and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake.ingest import DataError, ingest_split, read_bgr, read_split_csv


def write_png(path: Path, image: np.ndarray) -> None:
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def split_dir(tmp_path, real_images):
    """A 5-image labelled split of real PNGs: train.csv + train/."""
    folder = tmp_path / "train"
    folder.mkdir()
    rows = ["image_id,label"]
    for label, paths in real_images.items():
        shutil.copy(paths[0], folder / paths[0].name)
        rows.append(f"{paths[0].stem},{label}")
    csv = tmp_path / "train.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv, folder


def test_real_split_is_read_as_rgb_in_csv_order(split_dir):
    csv, folder = split_dir
    split = ingest_split(csv, folder, labelled=True)
    ids = [line.split(",")[0] for line in csv.read_text().splitlines()[1:]]
    assert split.images.shape == (5, 100, 100, 3) and split.images.dtype == np.uint8
    assert list(split.ids) == ids
    assert list(split.labels) == [0, 1, 2, 3, 4]
    bgr = cv2.imread(str(folder / f"{ids[2]}.png"))
    np.testing.assert_array_equal(split.images[2], bgr[:, :, ::-1])


def test_test_split_has_no_labels(tmp_path, real_images):
    folder = tmp_path / "test"
    folder.mkdir()
    path = real_images[0][0]
    shutil.copy(path, folder)
    (tmp_path / "test.csv").write_text(f"image_id\n{path.stem}\n")
    split = ingest_split(tmp_path / "test.csv", folder, labelled=False)
    assert list(split.labels) == [-1]


def expect_error(csv, folder, *fragments, labelled=True, threads=1):
    with pytest.raises(DataError) as info:
        ingest_split(csv, folder, labelled=labelled, threads=threads)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("threads", [1, 3])
def test_truncated_png_first_in_csv_order_is_named(split_dir, threads):
    csv, folder = split_dir
    ids = [line.split(",")[0] for line in csv.read_text().splitlines()[1:]]
    first, later = folder / f"{ids[1]}.png", folder / f"{ids[3]}.png"
    for victim in (first, later):
        victim.write_bytes(victim.read_bytes()[:300])
    message = expect_error(csv, folder, str(first), "not a decodable image", threads=threads)
    assert str(later) not in message


def test_non_image_file(split_dir):
    csv, folder = split_dir
    victim = sorted(folder.iterdir())[0]
    victim.write_text("this is not a PNG")
    expect_error(csv, folder, str(victim), "not a decodable image")


def test_empty_image_file(split_dir):
    csv, folder = split_dir
    victim = sorted(folder.iterdir())[0]
    victim.write_bytes(b"")
    expect_error(csv, folder, str(victim), "not a decodable image")


def test_missing_file(split_dir):
    csv, folder = split_dir
    victim = sorted(folder.iterdir())[3]
    victim.unlink()
    expect_error(csv, folder, str(victim), "does not exist")


def test_missing_image_folder(split_dir):
    csv, folder = split_dir
    shutil.rmtree(folder)
    expect_error(csv, folder, str(folder), "folder missing")


def test_duplicate_id(split_dir):
    csv, folder = split_dir
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[2]]) + "\n")
    expect_error(csv, folder, str(csv), "row 7", "duplicate image_id", lines[2].split(",")[0])


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("7", "label 7 is outside 0..4"),
        ("-1", "label -1 is outside 0..4"),
        ("cat", "label 'cat' is not an integer"),
        ("2.5", "label '2.5' is not an integer"),
        ("", "label '' is not an integer"),
    ],
)
def test_bad_label(split_dir, label, problem):
    csv, folder = split_dir
    lines = csv.read_text().splitlines()
    image_id = lines[3].split(",")[0]
    lines[3] = f"{image_id},{label}"
    csv.write_text("\n".join(lines) + "\n")
    expect_error(csv, folder, str(csv), "row 4", problem)


@pytest.mark.parametrize("header", ["id,label", "image_id,class", "image_id", "label,image_id"])
def test_wrong_header(split_dir, header):
    csv, folder = split_dir
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([header, *lines[1:]]) + "\n")
    expect_error(csv, folder, str(csv), "header", "expected 'image_id,label'")


def test_empty_csv(split_dir):
    csv, folder = split_dir
    csv.write_text("")
    expect_error(csv, folder, str(csv), "empty")


def test_header_only_csv(split_dir):
    csv, folder = split_dir
    csv.write_text("image_id,label\n")
    expect_error(csv, folder, str(csv), "no rows")


@pytest.mark.parametrize("bad_id", ["../x", "/etc/passwd", "sub/dir", "..", "a\\b"])
def test_path_like_ids_are_rejected(split_dir, bad_id):
    csv, folder = split_dir
    lines = csv.read_text().splitlines()
    lines[2] = f"{bad_id},1"
    csv.write_text("\n".join(lines) + "\n")
    expect_error(csv, folder, str(csv), "row 3", "not a plain file name")


def test_rgba_grayscale_and_64px_images_are_converted_with_a_warning(split_dir, caplog):
    csv, folder = split_dir
    paths = sorted(folder.iterdir())
    original = cv2.imread(str(paths[0]))
    write_png(paths[0], cv2.cvtColor(original, cv2.COLOR_BGR2BGRA))
    write_png(paths[1], cv2.cvtColor(cv2.imread(str(paths[1])), cv2.COLOR_BGR2GRAY))
    write_png(paths[2], cv2.resize(cv2.imread(str(paths[2])), (64, 64)))
    with caplog.at_level("WARNING"):
        split = ingest_split(csv, folder, labelled=True)
    assert split.images.shape == (5, 100, 100, 3)
    row = {image_id: i for i, image_id in enumerate(split.ids)}
    np.testing.assert_array_equal(split.images[row[paths[0].stem]], original[:, :, ::-1])
    gray = split.images[row[paths[1].stem]]
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    text = caplog.text
    assert "alpha channel dropped" in text and "grayscale" in text
    assert "64x64 resized to 100x100" in text
    assert str(paths[2]) in text


def test_unlisted_files_are_ignored_with_a_warning(split_dir, caplog):
    csv, folder = split_dir
    (folder / "stray.png").write_bytes(b"junk")
    (folder / ".snakemake_timestamp").write_text("")
    with caplog.at_level("WARNING"):
        split = ingest_split(csv, folder, labelled=True)
    assert len(split.ids) == 5
    assert "1 file(s) not listed" in caplog.text and "stray.png" in caplog.text
    assert ".snakemake_timestamp" not in caplog.text


def test_read_split_csv_strips_spaces(tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text("image_id,label\n abc , 3\n")
    frame = read_split_csv(csv, labelled=True)
    assert frame["image_id"].tolist() == ["abc"] and frame["label"].tolist() == [3]


def test_read_bgr_16_bit(tmp_path):
    path = tmp_path / "deep.png"
    image16 = np.full((100, 100, 3), 65535, dtype=np.uint16)
    write_png(path, image16)
    image, note = read_bgr(path)
    assert image.dtype == np.uint8 and (image == 255).all()
    assert "uint16" in note
