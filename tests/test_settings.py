"""One settings object, one set of defaults, one set of vocabularies: the schema, the
settings and the Snakefile's wildcard constraints agree."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml
from conftest import REPO, load_config

from deepfake.config import WILDCARDS
from deepfake.descriptors import DESCRIPTORS
from deepfake.families import FAMILIES
from deepfake.settings import (
    FILE_DESCRIPTORS,
    FINGERPRINTS,
    HEADS,
    KNN_DESCRIPTORS,
    NETWORKS,
    SCHEDULES,
    TTA_TRANSFORMS,
    TrainSettings,
)

SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
CNN_SETTINGS = SCHEMA["$defs"]["cnn_settings"]["properties"]
FIELDS = {f.name: f for f in dataclasses.fields(TrainSettings)}
DEFAULT = re.compile(r"\(default ([^)]*)\)\s*$")


def described_default(description: str):
    """The X of a description's closing "(default X)", read as YAML."""
    match = DEFAULT.search(" ".join(description.split()))
    assert match, f"no '(default ...)' at the end of {description!r}"
    return yaml.safe_load(match.group(1).split(":")[0])


def test_the_schema_describes_every_setting_and_nothing_else():
    # select_on_validation is a run-level key (cnn.select_on_validation), not a variant's
    assert set(CNN_SETTINGS) == set(FIELDS) - {"select_on_validation"}
    assert all("default" not in spec for spec in CNN_SETTINGS.values())


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_described_defaults_are_the_settings_defaults(name):
    if name == "select_on_validation":
        spec = SCHEMA["properties"]["cnn"]["properties"]["select_on_validation"]
    else:
        spec = CNN_SETTINGS[name]
    expected = FIELDS[name].default
    if FIELDS[name].default_factory is not dataclasses.MISSING:
        expected = FIELDS[name].default_factory()
    described = described_default(spec["description"])
    if name == "bins":  # (default histogram_bins): the run-level key's own default
        assert described == "histogram_bins"
        described = SCHEMA["properties"]["histogram_bins"]["default"]
    if isinstance(expected, tuple):
        expected = list(expected)
    assert described == expected


def test_vocabularies_are_the_schemas_enums():
    assert tuple(CNN_SETTINGS["network"]["enum"]) == NETWORKS
    assert tuple(CNN_SETTINGS["head"]["enum"]) == HEADS
    assert tuple(CNN_SETTINGS["schedule"]["enum"]) == SCHEDULES
    assert tuple(CNN_SETTINGS["fingerprint"]["items"]["enum"]) == FINGERPRINTS
    assert tuple(CNN_SETTINGS["tta"]["items"]["enum"]) == TTA_TRANSFORMS
    assert CNN_SETTINGS["mixed_precision"]["enum"] == [True, False, "auto"]
    knn = SCHEMA["properties"]["knn"]["properties"]
    assert tuple(knn["descriptors"]["items"]["enum"]) == KNN_DESCRIPTORS
    groups = knn["combination"]["properties"]["groups"]["items"]["enum"]
    assert tuple(groups) == ("hsv", *FILE_DESCRIPTORS)
    gbm = SCHEMA["properties"]["gbm"]["properties"]["descriptors"]["items"]["enum"]
    assert tuple(gbm) == ("hsv", *FILE_DESCRIPTORS)
    assert tuple(DESCRIPTORS) == FILE_DESCRIPTORS
    assert set(FINGERPRINTS) <= set(FILE_DESCRIPTORS)
    # ensemble members: a model of any family (the config check holds them to the run's)
    members = SCHEMA["properties"]["ensemble"]["properties"]["members"]["items"]["pattern"]
    assert all(re.fullmatch(members.strip("^$"), f"{f}/some_name") for f in FAMILIES)


def test_wildcard_constraints_accept_exactly_the_vocabularies():
    def accepts(name, value):
        return re.fullmatch(WILDCARDS[name], value) is not None

    for name in ["hsv24", *FILE_DESCRIPTORS]:
        assert accepts("descriptor", name)
    for name in ["pixels", "combo", "hsv"]:
        assert not accepts("descriptor", name)
    candidates = ["knn", "gbm", "cnn", "ensemble", "svm"]
    assert [f for f in candidates if accepts("family", f)] == list(FAMILIES)
    assert accepts("set", "train_aug") and not accepts("split", "train_aug")
    # the Snakefile takes every constraint from that table
    common = (REPO / "rules" / "common.smk").read_text()
    block = common[common.index("wildcard_constraints:") :].split("\n\n")[0]
    for name in ["split", "set", "descriptor", "family", "variant", "name", "group"]:
        assert f'{name}=WILDCARDS["{name}"]' in block


def test_from_params_types_and_refuses_unknown_keys():
    s = TrainSettings.from_params({"filters": [8, 8, 8, 8, 8], "learning_rate": 1, "tta": []})
    assert s.filters == (8, 8, 8, 8, 8) and isinstance(s.learning_rate, float)
    assert s.as_params()["filters"] == [8, 8, 8, 8, 8]
    assert TrainSettings.from_params(s.as_params()) == s  # the rule's params round-trip
    with pytest.raises(ValueError, match=r"unknown CNN setting\(s\) \['dropuot'\]"):
        TrainSettings.from_params({"dropuot": 0.3})
    with pytest.raises(ValueError, match="epochs must be an integer"):
        TrainSettings.from_params({"epochs": 2.5})
    with pytest.raises(ValueError, match="crop needs the gap head"):
        TrainSettings(crop=48, head="flatten")
    with pytest.raises(ValueError, match="full_size_epochs applies"):
        TrainSettings(full_size_epochs=2)


def test_from_config_merges_base_variant_bins_and_protocol():
    config = load_config("tiny_cnn")
    config["cnn"]["select_on_validation"] = False
    s = TrainSettings.from_config(config, "bins8")
    assert s.bins == 8 and s.select_on_validation is False
    assert s.filters == tuple(config["cnn"]["base"]["filters"])
    assert TrainSettings.from_config(config, "baseline").bins == config["histogram_bins"]
    assert s.patch == TrainSettings().patch  # unset keys take the one default
    config["cnn"]["variants"]["bad"] = {"dropout": 0.3, "head": "mean"}
    with pytest.raises(ValueError, match=r"cnn\.variants\.bad.*head must be one of"):
        TrainSettings.from_config(config, "bad")
