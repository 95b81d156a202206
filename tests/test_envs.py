"""The conda environments (envs/*.yaml, for --sdm conda) and the GPU node's
requirements-gpu.txt agree with the pinned requirements."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
# Only the GPU environment's accelerator stack is not in requirements.txt (it is in
# requirements-gpu.txt).
ENV_ONLY = {"jax"}
# What requirements-gpu.txt leaves out of requirements.txt: JAX replaces TensorFlow (its
# CPU-only build on Linux x86_64, the full one elsewhere).
NOT_ON_GPU = {"tensorflow-cpu", "tensorflow", "tensorboard"}
# The workflow engine and its config tools run outside the rules' environments.
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema", "pyyaml"}


def pinned(file: str = "requirements.txt") -> dict[str, Requirement]:
    lines = (REPO / file).read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in requirements}


def pip_requirements(env_file: Path) -> list[Requirement]:
    spec = yaml.safe_load(env_file.read_text())
    pip = [d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d]
    return [Requirement(line) for line in pip[0]] if pip else []


def test_every_rule_family_has_an_environment():
    assert {e.stem for e in ENVS} == {"data", "analysis", "cnn-cpu", "cnn-gpu"}


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_environment_pins_match_requirements(env_file):
    spec = yaml.safe_load(env_file.read_text())
    python = [d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]  # the version CI tests
    requirements = pinned()
    for requirement in pip_requirements(env_file):
        name = canonicalize_name(requirement.name)
        if name in ENV_ONLY:
            continue
        assert name in requirements, f"{env_file.name}: {name} is not in requirements.txt"
        assert requirement.specifier == requirements[name].specifier, (
            f"{env_file.name}: {name}{requirement.specifier} but requirements.txt pins "
            f"{requirements[name].specifier}"
        )
        assert str(requirement.marker) == str(requirements[name].marker), (
            f"{env_file.name}: {name} for {requirement.marker} but requirements.txt for "
            f"{requirements[name].marker}"
        )


def test_environments_cover_every_runtime_requirement():
    listed = {canonicalize_name(r.name) for env in ENVS for r in pip_requirements(env)}
    assert set(pinned()) - DRIVER_ONLY <= listed


def test_rules_name_existing_environments():
    for rule_file in (REPO / "rules").glob("*.smk"):
        for env in re.findall(r'"\.\./envs/([\w-]+)\.yaml"', rule_file.read_text()):
            assert (REPO / "envs" / f"{env}.yaml").exists(), f"{rule_file.name}: {env}"
    cnn_rule = (REPO / "rules" / "cnn.smk").read_text()
    assert "envs/cnn-{config['cnn']['environment']}.yaml" in cnn_rule


def test_gpu_environment_selects_the_jax_backend():
    spec = yaml.safe_load((REPO / "envs" / "cnn-gpu.yaml").read_text())
    assert spec["variables"]["KERAS_BACKEND"] == "jax"
    assert any(
        canonicalize_name(r.name) == "jax" for r in pip_requirements(REPO / "envs" / "cnn-gpu.yaml")
    )


def test_the_tests_run_the_jax_that_the_gpu_environment_installs():
    dev = (REPO / "requirements-dev.txt").read_text().splitlines()
    tested = [Requirement(line) for line in dev if line.startswith("jax")]
    gpu = [r for r in pip_requirements(REPO / "envs" / "cnn-gpu.yaml") if r.name == "jax"]
    node = [r for r in pinned("requirements-gpu.txt").values() if r.name == "jax"]
    assert len(tested) == len(gpu) == len(node) == 1
    assert tested[0].specifier == gpu[0].specifier == node[0].specifier
    assert tested[0].extras == {"cpu"}
    assert gpu[0].extras == node[0].extras == {"cuda13"}  # the same CUDA build


def test_gpu_requirements_are_the_runtime_ones_with_jax_for_tensorflow():
    runtime, gpu = pinned(), pinned("requirements-gpu.txt")
    assert set(runtime) - set(gpu) == NOT_ON_GPU
    assert set(gpu) - set(runtime) == ENV_ONLY
    for name in set(runtime) & set(gpu):
        assert gpu[name].specifier == runtime[name].specifier, (
            f"requirements-gpu.txt: {name}{gpu[name].specifier} but requirements.txt pins "
            f"{runtime[name].specifier}"
        )
        assert gpu[name].extras == runtime[name].extras, name


def test_the_gpu_environment_installs_what_a_gpu_node_installs():
    gpu = pinned("requirements-gpu.txt")
    for requirement in pip_requirements(REPO / "envs" / "cnn-gpu.yaml"):
        name = canonicalize_name(requirement.name)
        assert name in gpu, f"cnn-gpu.yaml: {name} is not in requirements-gpu.txt"
        assert str(requirement) == str(gpu[name]), name


def test_min_version_is_the_lowest_snakemake_requirements_allow():
    lowest = next(s.version for s in pinned()["snakemake"].specifier if s.operator == ">=")
    assert f'min_version("{lowest}")' in (REPO / "Snakefile").read_text()
