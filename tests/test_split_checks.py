"""CSV extra columns, and leakage between splits: shared ids stop, identical bytes warn."""

from __future__ import annotations

import logging
import shutil

import pytest

from deepfake.datafolder import check_disjoint
from deepfake.ingest import duplicates_across_splits, ingest_split


@pytest.fixture
def layout(tmp_path, real_images):
    """train (3 real images) and validation (2 others) in the competition's layout."""
    for split, picks in {"train": [0, 1, 2], "validation": [3, 4]}.items():
        (tmp_path / split).mkdir()
        rows = ["image_id,label"]
        for label in picks:
            path = real_images[label][0]
            shutil.copy(path, tmp_path / split / path.name)
            rows.append(f"{path.stem},{label}")
        (tmp_path / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_extra_columns_are_ignored_with_a_warning(layout, caplog):
    csv = layout / "train.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0] + ",fold,note"] + [f"{x},1,ok" for x in lines[1:]]) + "\n")
    with caplog.at_level(logging.WARNING):
        split = ingest_split(csv, layout / "train", labelled=True)
    assert split.labels.tolist() == [0, 1, 2]
    assert "extra column(s) fold, note ignored" in caplog.text


def test_an_id_in_two_splits_names_both_rows(layout):
    val = layout / "validation.csv"
    shared = (layout / "train.csv").read_text().splitlines()[2].split(",")[0]
    val.write_text(val.read_text() + f"{shared},1\n")
    with pytest.raises(ValueError) as error:
        check_disjoint(layout / "train.csv", [val])
    message = str(error.value)
    assert f"{layout / 'train.csv'}, row 3" in message and f"{val}, row 4" in message
    check_disjoint(layout / "train.csv", [])  # one split alone is fine


def test_validation_and_test_may_share_ids(layout):
    """A dev split lists its validation images as the test split, on purpose."""
    val = layout / "validation.csv"
    test = layout / "test.csv"
    test.write_text("image_id\n" + "".join(f"{line.split(',')[0]}\n" for line in
                    val.read_text().splitlines()[1:]))  # fmt: skip
    check_disjoint(layout / "train.csv", [val, test])
    test.write_text(
        test.read_text() + (layout / "train.csv").read_text().splitlines()[1].split(",")[0] + "\n"
    )
    with pytest.raises(ValueError, match="leakage"):
        check_disjoint(layout / "train.csv", [val, test])


def test_identical_bytes_under_other_ids_are_found(layout):
    train_png = sorted((layout / "train").iterdir())[0]
    shutil.copy(train_png, layout / "validation" / "copy.png")
    val = layout / "validation.csv"
    val.write_text(val.read_text() + "copy,0\n")
    splits = {
        name: vars(ingest_split(layout / f"{name}.csv", layout / name, labelled=True))
        for name in ("train", "validation")
    }
    assert duplicates_across_splits(splits) == [f"train/{train_png.stem} = validation/copy"]
    splits.pop("validation")
    assert duplicates_across_splits(splits) == []
