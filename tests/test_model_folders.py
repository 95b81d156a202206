"""A model folder is data: loading one runs none of its contents as code, and a folder of
another card format (an older workflow's) or with a pickle in it is refused with a clear
error before anything of it is unpickled."""

from __future__ import annotations

import json
import pathlib
import pickle

import numpy as np
import pytest
from conftest import separable

from deepfake import layout
from deepfake.descriptors import descriptor
from deepfake.families import CARD_FORMAT, FAMILIES, load, read_card
from deepfake.gbm_model import GbmModel

DESCRIPTORS = ("hsv8",)
PARAMS = {"max_iter": 3, "learning_rate": 0.2, "max_leaf_nodes": 4, "l2_regularization": 0.0,
          "seed": 0}  # fmt: skip


class Payload:
    """Unpickling it creates the file ``marker``: the proof that a pickle was run."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


@pytest.fixture
def folder(tmp_path):
    train = separable(60, seed=1)
    groups = [descriptor(d, train["image"]) for d in DESCRIPTORS]
    model = GbmModel.fit(DESCRIPTORS, groups, train["label"], PARAMS)
    model.save(tmp_path / "gbm" / "f", temperature=1.5)
    return tmp_path / "gbm" / "f"


def edit_card(folder, **changes):
    path = folder / layout.CARD
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps({k: v for k, v in card.items() if v is not None}))


def test_the_payload_would_leave_its_marker_if_unpickled(tmp_path):
    """The check of the tests below: this pickle, once loaded, does create its marker."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


def test_a_folder_loads_and_predicts(folder):
    model = load(folder)
    assert model.predict_proba(separable(5, seed=2)["image"]).shape == (5, 5)
    assert read_card(folder)["format"] == CARD_FORMAT == 2


@pytest.mark.parametrize("found", [1, 3, None])
def test_a_card_of_another_format_is_refused_with_what_to_do(folder, found):
    if found == 1:  # how the first format wrote it
        card = json.loads((folder / layout.CARD).read_text())
        card["kind"] = card.pop("family")
        (folder / layout.CARD).write_text(json.dumps(card))
    edit_card(folder, format=found)
    expected = "not a model card" if found is None else f"format {found}.*reads format 2"
    with pytest.raises(ValueError, match=expected) as error:
        load(folder)
    assert str(folder / layout.CARD) in str(error.value)
    if found is not None:
        assert "Retrain" in str(error.value) and "snakemake ship_model" in str(error.value)


def test_a_card_without_a_known_family_is_refused(folder):
    edit_card(folder, family="forest")
    with pytest.raises(ValueError, match=f"unknown model family 'forest'.*{', '.join(FAMILIES)}"):
        load(folder)


def test_trees_replaced_by_a_pickle_are_refused_without_unpickling(folder, tmp_path):
    marker = tmp_path / "ran"
    (folder / layout.TREES).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match=r"trees\.npz: not a \.npz file.*runs no code"):
        load(folder)
    assert not marker.exists()


def test_a_card_pointing_at_a_joblib_file_is_refused_without_unpickling(folder, tmp_path):
    marker = tmp_path / "ran"
    (folder / "model.joblib").write_bytes(pickle.dumps(Payload(marker)))
    edit_card(folder, trees="model.joblib")
    with pytest.raises(ValueError, match=r"model\.json: its trees are 'model\.joblib'.*Retrain"):
        load(folder)
    assert not marker.exists()


def test_a_pickle_inside_the_npz_is_refused_without_unpickling(folder, tmp_path):
    """A .npz whose array of leaf values is a pickled object array."""
    marker = tmp_path / "ran"
    with np.load(folder / layout.TREES) as saved:
        arrays = {name: saved[name] for name in saved.files}
    arrays["value"] = np.array([Payload(marker)] * len(arrays["value"]), dtype=object)
    np.savez(folder / layout.TREES, **arrays)
    with pytest.raises(ValueError, match="not a .npz of plain arrays"):
        load(folder)
    assert not marker.exists()


def test_a_card_pointing_outside_its_folder_is_refused(folder):
    edit_card(folder, trees="../elsewhere/trees.npz")
    with pytest.raises(ValueError, match="not a .npz beside it"):
        load(folder)


def test_no_family_reads_a_pickle():
    """The files each family's folder holds for inference: JSON, .npz arrays or a Keras
    file (loaded in Keras' safe mode, its default)."""
    for family in FAMILIES.values():
        for name in family.files:
            assert pathlib.Path(name).suffix in (".json", ".npz", ".keras"), name


def test_a_card_whose_family_is_not_a_name_is_refused_in_a_line(tmp_path):
    (tmp_path / "model.json").write_text('{"format": 2, "family": ["gbm"]}')
    with pytest.raises(ValueError, match="unknown model family"):
        read_card(tmp_path)
