"""deepfake.config: the one variant merging, key-order-free params, manifests, code inputs."""

from __future__ import annotations

import os

import pytest
from conftest import REPO, load_config

from deepfake.config import (
    check_predict_model,
    choose_model,
    ensemble_members,
    folder_manifest,
    inference_files,
    models,
    normalised,
    package_modules,
    trained_models,
    trained_variants,
    typed_cli_values,
)
from deepfake.settings import TrainSettings


def variant_params(config, variant):
    return TrainSettings.from_config(config, variant).as_params()


def test_params_do_not_depend_on_key_order():
    config = load_config("tiny_cnn")
    shuffled = config | {
        "cnn": config["cnn"] | {"base": dict(reversed(config["cnn"]["base"].items()))}
    }
    for variant in config["cnn"]["variants"]:
        assert repr(variant_params(config, variant)) == repr(variant_params(shuffled, variant))
    assert variant_params(config, "bins8")["bins"] == 8
    assert variant_params(config, "baseline")["bins"] == config["histogram_bins"]
    assert list(normalised({"b": {"d": 1, "c": 2}, "a": 0})) == ["a", "b"]


def test_cnn_train_subset():
    config = load_config("tiny_cnn")
    assert trained_variants(config) == list(config["cnn"]["variants"])
    config["cnn"]["train"] = ["flatten", "baseline"]
    assert trained_variants(config) == ["baseline", "flatten"]  # config order
    config["cnn"]["train"] = ["nope"]
    with pytest.raises(ValueError, match="unknown variant"):
        trained_variants(config)


def test_ensemble_members_default_to_the_cnns_and_may_include_knn():
    config = load_config("tiny_cnn")
    config["cnn"]["train"] = ["baseline", "bins8"]
    assert trained_models(config) == ["knn/hsv16", "knn/pixels", "cnn/baseline", "cnn/bins8"]
    assert ensemble_members(config) == ["cnn/baseline", "cnn/bins8"]
    config["ensemble"] = {"members": ["cnn/bins8", "knn/hsv16"]}
    assert ensemble_members(config) == ["cnn/bins8", "knn/hsv16"]
    config["ensemble"] = {"members": ["cnn/bins8"]}
    assert ensemble_members(config) == []  # one member: no ensemble
    config["ensemble"] = {"members": ["cnn/bins8", "cnn/flatten"]}  # flatten is not trained
    with pytest.raises(ValueError, match=r"\['cnn/flatten'\] are not models of this run"):
        ensemble_members(config)


def test_command_line_strings_are_read_as_yaml():
    assert typed_cli_values({"k": ["3", "5"], "base": {"dropout": "0.3", "head": "gap"}}) == {
        "k": [3, 5],
        "base": {"dropout": 0.3, "head": "gap"},
    }


def test_manifest_sees_a_file_replaced_in_place(tmp_path):
    (tmp_path / "a.png").write_bytes(b"one")
    (tmp_path / ".hidden").write_bytes(b"x")
    before = folder_manifest(tmp_path)
    assert before.startswith("1 files")
    os.utime(tmp_path / "a.png", ns=(0, 10**9))
    assert folder_manifest(tmp_path) != before


def test_code_inputs_follow_imports():
    names = {os.path.basename(p) for p in package_modules(REPO / "scripts" / "train_cnn.py")}
    assert {"model.py", "train.py", "backend.py", "__init__.py", "layout.py"} <= names
    # its model's inputs are descriptors; the KNN's code is not the CNN's
    assert "features.py" in names and "knn.py" not in names and "knn_model.py" not in names
    names = {os.path.basename(p) for p in package_modules(REPO / "scripts" / "knn.py")}
    assert {"knn.py", "features.py"} <= names and "model.py" not in names


def test_one_variant_merging():
    """rules/ and tools/ merge variants only through TrainSettings.from_config."""
    for path in [*REPO.glob("rules/*.smk"), *REPO.glob("tools/*.py")]:
        assert '["cnn"]["base"]' not in path.read_text(), path


def test_predict_model_is_checked_against_the_run():
    config = load_config("tiny_cnn")
    config["cnn"]["train"] = ["baseline", "bins8"]
    assert models(config) == [*trained_models(config), "ensemble/mean"]
    for wanted in ("best", "knn", "cnn", "ensemble", "knn/pixels", "cnn/bins8"):
        check_predict_model(config | {"predict_model": wanted})
    for wanted, message in (("cnn/flatten", "no model of this run"), ("lgbm", "no model")):
        with pytest.raises(ValueError, match=message) as caught:
            check_predict_model(config | {"predict_model": wanted})
        assert "cnn/baseline" in str(caught.value)  # the trained ones are listed


def test_inference_needs_only_the_model_files():
    config = load_config("tiny_cnn")
    config["cnn"]["train"] = ["baseline", "bins8"]
    assert inference_files(config, "cnn/baseline") == [
        "results/cnn/baseline/model.json",
        "results/cnn/baseline/model.keras",
    ]
    assert inference_files(config, "knn/hsv16") == [
        "results/knn/hsv16/model.json",
        "results/knn/hsv16/reference.npz",
    ]
    files = inference_files(config, "ensemble/mean")
    assert files[0] == "results/ensemble/mean/model.json"
    assert "results/cnn/bins8/model.keras" in files and not any("knn" in f for f in files)


def test_summary_rows_resolve_best_and_families(tmp_path):
    summary = tmp_path / "summary.csv"
    summary.write_text("model,variant,val_accuracy\nknn,combo,0.9\ncnn,fast,0.8\n")
    assert choose_model(summary, "best") == "knn/combo"
    assert choose_model(summary, "cnn") == "cnn/fast"
    assert choose_model(summary, "cnn/fast") == "cnn/fast"
    with pytest.raises(ValueError, match="not a row"):
        choose_model(summary, "ensemble")
