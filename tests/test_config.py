"""deepfake.config: the one variant merging, key-order-free params, manifests, code inputs."""

from __future__ import annotations

import copy
import os
import re

import pytest
import yaml
from conftest import REPO, load_config, validated

from deepfake.config import (
    ConfigError,
    check_config,
    check_predict_model,
    check_ranges,
    choose_model,
    inference_files,
    merge,
    models,
    renamed_keys,
    typed_cli_values,
)
from deepfake.datafolder import check_data_folder, data_record, folder_manifest
from deepfake.families import ensemble_members, normalised, trained_models, trained_variants
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
    config = validated(load_config("tiny_cnn"))
    assert trained_variants(config) == list(config["cnn"]["variants"])
    config["cnn"]["train"] = ["flatten", "baseline"]
    assert trained_variants(config) == ["baseline", "flatten"]  # config order
    config["cnn"]["train"] = ["nope"]
    with pytest.raises(ValueError, match="unknown variant"):
        trained_variants(config)


def test_ensemble_members_default_to_the_cnns_and_may_include_knn():
    config = validated(load_config("tiny_cnn"))
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


def test_one_variant_merging():
    """rules/, tools/ and benchmarks/ merge variants only through TrainSettings.from_config."""
    for path in [
        *REPO.glob("rules/*.smk"),
        *REPO.glob("tools/*.py"),
        *REPO.glob("benchmarks/*.py"),
    ]:
        assert '["cnn"]["base"]' not in path.read_text(), path


def test_predict_model_is_checked_against_the_run():
    config = validated(load_config("tiny_cnn"))
    config["cnn"]["train"] = ["baseline", "bins8"]
    assert models(config) == [*trained_models(config), "ensemble/mean"]
    for wanted in ("best", "knn", "cnn", "ensemble", "knn/pixels", "cnn/bins8"):
        check_predict_model(config | {"predict_model": wanted})
    for wanted, message in (("cnn/flatten", "no model of this run"), ("lgbm", "no model")):
        with pytest.raises(ValueError, match=message) as caught:
            check_predict_model(config | {"predict_model": wanted})
        assert "cnn/baseline" in str(caught.value)  # the trained ones are listed


def test_inference_needs_only_the_model_files():
    config = validated(load_config("tiny_cnn"))
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
    summary.write_text("model,family,val_accuracy\nknn/combo,knn,0.9\ncnn/fast,cnn,0.8\n")
    assert choose_model(summary, "best") == "knn/combo"
    assert choose_model(summary, "cnn") == "cnn/fast"
    assert choose_model(summary, "cnn/fast") == "cnn/fast"
    with pytest.raises(ValueError, match="not a row"):
        choose_model(summary, "ensemble")


def test_the_schema_fills_every_default_and_says_a_wrong_key_in_a_line():
    config = {"data_dir": "demo", "histogram_bins": 16, "knn": {"k": [3], "descriptors": ["hsv"]}}
    config |= {k: load_config("tiny")[k] for k in ("demo", "augment", "cnn")}
    check_config(config, REPO / "schemas" / "config.schema.yaml")
    assert config["results_dir"] == "results" and config["ensemble"]["name"] == "mean"
    assert config["knn"]["combination"]["folds"] == 3 and config["gbm"]["max_iter"] == 300
    config["knn"]["kk"] = [3]
    with pytest.raises(ConfigError) as caught:
        check_config(config, REPO / "schemas" / "config.schema.yaml")
    message = str(caught.value)
    assert (
        "config key 'knn.kk' is not allowed here; did you mean 'k'? allowed keys: "
        "combination, descriptors, k" in message
    )
    assert len(message.splitlines()) == 2  # the heading and one line: no schema, no config


OLD_NAME_WARNING = (
    "Warning: config key knn.features is now knn.descriptors; "
    "the old name is read until the next release."
)


def test_the_old_name_of_knn_descriptors_is_read_as_the_new_one_with_one_line(capsys):
    new = load_config("tiny")
    old = copy.deepcopy(new)
    old["knn"] = {k if k != "descriptors" else "features": v for k, v in new["knn"].items()}
    assert "descriptors" not in old["knn"]
    assert validated(old) == validated(new)
    assert capsys.readouterr().err.splitlines() == [OLD_NAME_WARNING]
    assert validated(new) and capsys.readouterr().err == ""
    page = (REPO / "docs" / "configuration.md").read_text()
    assert OLD_NAME_WARNING in " ".join(page.split())  # the upgrade notes quote it


def test_the_last_config_layer_that_sets_knn_descriptors_decides():
    base = {"knn": {"k": [3], "descriptors": ["hsv"]}}
    overlay = {"knn": {"features": ["pixels"]}}
    config = copy.deepcopy(base)
    merge(config, overlay)  # as --configfile merges: both keys
    assert renamed_keys(config, [base, overlay]) == [OLD_NAME_WARNING]
    assert config["knn"] == {"k": [3], "descriptors": ["pixels"]}
    config = copy.deepcopy(overlay)
    merge(config, base)  # the new name given last wins
    assert renamed_keys(config, [overlay, base]) == [OLD_NAME_WARNING]
    assert config["knn"] == {"k": [3], "descriptors": ["hsv"]}


def test_knn_descriptors_and_its_old_name_together_are_refused():
    config = load_config("tiny")
    config["knn"]["features"] = ["pixels"]
    with pytest.raises(ConfigError) as caught:
        check_config(config, REPO / "schemas" / "config.schema.yaml")
    assert str(caught.value) == (
        "config knn.features and knn.descriptors are both given; features is the old name "
        "of descriptors: give knn.descriptors only"
    )
    layers = [{"knn": {"descriptors": ["hsv"]}}, {"knn": {"features": [], "descriptors": []}}]
    config = {"knn": {"features": [], "descriptors": []}}
    with pytest.raises(ConfigError, match="both given"):
        renamed_keys(config, layers)


def test_a_data_folder_must_hold_the_competitions_layout(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        check_data_folder(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        check_data_folder(tmp_path / "file")
    data = tmp_path / "data"
    for name in ("train", "validation"):
        (data / name).mkdir(parents=True)
    (data / "train.csv").write_text("image_id,label\n")
    with pytest.raises(ValueError) as caught:
        check_data_folder(data)
    assert f"config data_dir: {data} is not in the competition's layout: missing test/, " in str(
        caught.value
    )
    assert "validation.csv, test.csv (expected" in str(caught.value)
    (data / "test").mkdir()
    for name in ("validation.csv", "test.csv"):
        (data / name).write_text("image_id\n")
    check_data_folder(data)
    record = data_record(str(data))
    assert record["data_dir"] == str(data.resolve()) and record["demo"] is False
    assert record["train"].startswith("0 files")
    assert data_record("demo", {"seed": 7}) == {
        "data_dir": "demo",
        "demo": True,
        "demo_settings": {"seed": 7},
    }


def test_a_broken_link_still_has_a_manifest(tmp_path):
    (tmp_path / "a.png").write_bytes(b"one")
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    assert folder_manifest(tmp_path).startswith("2 files")


def schema_defaults(schema: dict, path: tuple = ()) -> dict:
    """Every leaf default of the schema, by its dotted path."""
    found = {}
    for key, spec in schema.get("properties", {}).items():
        if "properties" in spec:
            found |= schema_defaults(spec, (*path, key))
        elif "default" in spec:
            found[".".join((*path, key))] = spec["default"]
    return found


def leaves(config: dict, path: tuple = ()) -> dict:
    found = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            found |= leaves(value, (*path, key))
        else:
            found[".".join((*path, key))] = value
    return found


def test_a_default_has_one_home_the_schema():
    """config.yaml sets only what differs from the schema's defaults; the defaults it shows
    for reading, commented out (``# key: value``), are the schema's."""
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    defaults = schema_defaults(schema)
    text = (REPO / "config.yaml").read_text()
    set_here = leaves(yaml.safe_load(text))
    assert [k for k, v in set_here.items() if k in defaults and defaults[k] == v] == []
    shown = re.sub(r"^(\s*)# (\w+:)", r"\1\2", text, flags=re.M)  # every `# key:` uncommented
    keys = [line for line in shown.splitlines() if re.match(r"^\s*\w+:", line)]
    parsed = yaml.safe_load("\n".join(keys))
    commented = {k: v for k, v in leaves(parsed).items() if k not in set_here and k in defaults}
    assert commented, "config.yaml shows the defaults it leaves to the schema"
    assert {k: v for k, v in commented.items() if defaults[k] != v} == {}


def test_a_range_whose_low_end_is_above_its_high_end_is_refused_by_name():
    config = load_config("tiny")
    config["augment"] |= {"jpeg": 0.5, "jpeg_quality": [95, 70]}
    with pytest.raises(ValueError, match=r"augment\.jpeg_quality: \[95, 70\] is no range"):
        check_ranges(validated(config))
    config["augment"] |= {"jpeg_quality": [70, 95], "resize_factor": [2.0, 0.5]}
    with pytest.raises(ValueError, match=r"augment\.resize_factor"):
        check_ranges(validated(config))
    config["augment"]["resize_factor"] = [0.5, 0.5]
    check_ranges(validated(config))
