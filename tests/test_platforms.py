"""tools/check_platforms.py's pure part: what it resolves for, and that the requirements'
markers pick one TensorFlow for each platform (the resolution itself needs PyPI: CI runs
the tool)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib

import pytest
import yaml
from conftest import REPO
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "check_platforms", REPO / "tools" / "check_platforms.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for its dataclasses
    spec.loader.exec_module(module)
    return module


check = load_tool()
TENSORFLOWS = {"tensorflow", "tensorflow-cpu"}


def requirements(lines: list[str]) -> list[Requirement]:
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def selected(reqs: list[Requirement], platform: str, python: str) -> set[str]:
    environment = check.marker_environment(platform, python)
    return {r.name for r in reqs if r.marker is None or r.marker.evaluate(environment)}


def test_every_platform_and_python_is_a_target():
    targets = check.targets()
    assert len(targets) == len(set(targets))
    for file in ("requirements.txt", "requirements-dev.txt"):
        assert {(t.platform, t.python) for t in targets if t.file == file} == {
            (platform, python) for platform in check.PLATFORMS for python in check.PYTHONS
        }
    gpu = {(t.platform, t.python) for t in targets if t.file == "requirements-gpu.txt"}
    assert gpu == {("x86_64-unknown-linux-gnu", python) for python in check.PYTHONS}
    assert set(check.PLATFORMS) == {
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    }
    assert all((REPO / file).is_file() for file in check.FILES)


def test_the_pythons_are_the_ones_pyproject_allows():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    allowed = SpecifierSet(project["requires-python"])
    assert all(python in allowed for python in check.PYTHONS)
    lowest, highest = (tuple(map(int, v.split("."))) for v in (check.PYTHONS[0], check.PYTHONS[-1]))
    assert f"{lowest[0]}.{lowest[1] - 1}" not in allowed
    assert f"{highest[0]}.{highest[1] + 1}" not in allowed
    readme = (REPO / "README.md").read_text()
    assert f"Python {check.PYTHONS[0]}-{check.PYTHONS[-1]} " in readme


def test_the_marker_environments_are_the_platforms():
    linux = check.marker_environment("x86_64-unknown-linux-gnu", "3.12")
    assert Marker('sys_platform == "linux" and platform_machine == "x86_64"').evaluate(linux)
    assert Marker('python_version == "3.12" and os_name == "posix"').evaluate(linux)
    windows = check.marker_environment("x86_64-pc-windows-msvc", "3.11")
    assert Marker('sys_platform == "win32" and platform_system == "Windows"').evaluate(windows)
    mac = check.marker_environment("aarch64-apple-darwin", "3.13")
    assert Marker('sys_platform == "darwin" and platform_machine == "arm64"').evaluate(mac)


def cnn_cpu_environment() -> list[str]:
    spec = yaml.safe_load((REPO / "envs" / "cnn-cpu.yaml").read_text())
    return next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))


@pytest.mark.parametrize("source", ["requirements.txt", "envs/cnn-cpu.yaml"])
@pytest.mark.parametrize("platform", list(check.PLATFORMS))
def test_one_tensorflow_per_platform(source, platform):
    if source == "requirements.txt":
        lines = (REPO / source).read_text().splitlines()
    else:
        lines = cnn_cpu_environment()
    reqs = requirements(lines)
    for python in check.PYTHONS:
        chosen = selected(reqs, platform, python) & TENSORFLOWS
        # the CPU-only build where the workflow is tested; it has no wheels for
        # Linux aarch64 or macOS
        expected = "tensorflow-cpu" if platform == "x86_64-unknown-linux-gnu" else "tensorflow"
        assert chosen == {expected}, (source, platform, python)
    versions = {str(r.specifier) for r in reqs if r.name in TENSORFLOWS}
    assert len(versions) == 1  # the same tested range under both names


def test_only_pure_python_source_distributions_pass():
    lock = {
        "packages": [
            {"name": "numpy", "version": "2.4.6", "wheels": [{"name": "numpy.whl"}]},
            {"name": "connection-pool", "version": "0.0.3", "sdist": {"name": "c.tar.gz"}},
            {"name": "opencv-python-headless", "version": "5.1.0.95", "sdist": {}},
        ]
    }
    assert check.not_wheels(lock) == ["opencv-python-headless==5.1.0.95"]


def test_network_errors_are_told_from_failed_resolutions():
    assert check.is_network_error(
        "error: Failed to fetch: `https://pypi.org/simple/snakemake/`\n"
        "Caused by: error sending request for url (https://pypi.org/simple/snakemake/)"
    )
    assert not check.is_network_error(
        "error: No solution found when resolving dependencies:\n"
        "hint: Wheels are available for `tensorflow-cpu` (v2.21.0) on the following "
        "platforms: `manylinux_2_27_x86_64`, `win_amd64`"
    )
