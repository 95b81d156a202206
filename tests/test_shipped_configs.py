"""The shipped configs, and the experiment overlays (experiments/<config>-<what>.yaml,
merged over config.<config>.yaml), are valid: merged as Snakemake merges --configfile
files, they pass the schema, train only variants they define and ensemble only models
they train. A typo fails here, not after a GPU job has started."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from deepfake.config import (
    check_has_model,
    check_refit,
    merge,
)
from deepfake.families import ensemble_members, trained_variants

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")
CONFIGS = ["config.yaml", *sorted(p.name for p in REPO.glob("config.*.yaml"))]
OVERLAYS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "experiments").glob("*.yaml"))


def merged(*files: str) -> dict:
    """config.yaml with ``files`` merged over it in order, as ``--configfile`` does."""
    config: dict = {}
    for name in ("config.yaml", *files):
        merge(config, yaml.safe_load((REPO / name).read_text()))
    return config


def check(config: dict) -> None:
    validate(config, SCHEMA)
    check_has_model(config)
    check_refit(config)
    assert trained_variants(config)
    ensemble_members(config)  # raises on a member the run does not train


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_config_is_valid(name):
    check(merged(name))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_run_overlay_is_valid_over_its_config(overlay):
    base = f"config.{Path(overlay).stem.split('-')[0]}.yaml"
    assert (REPO / base).exists(), f"{overlay}: name it <config>-<what>.yaml"
    check(merged(base, overlay))


def test_a_misspelt_key_fails():
    config = merged("config.best.yaml")
    config["cnn"]["variants"]["paper_net"]["epoch"] = 60
    with pytest.raises(WorkflowError, match="epoch"):
        validate(config, SCHEMA)


def test_an_ensemble_member_the_run_does_not_train_fails():
    config = merged("config.fast.yaml")
    config["ensemble"]["members"] = ["cnn/fast_fp", "knn/combo16"]
    with pytest.raises(ValueError, match=r"ensemble.members: \['knn/combo16'\]"):
        check(config)
