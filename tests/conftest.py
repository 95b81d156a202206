"""Shared fixtures: real images from the shared sample, and workflow copies to run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "deepfake-train-sample"
WORKFLOW_FILES = ["Snakefile", "rules", "scripts", "schemas", "report", "profiles", "envs"]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def load_config(name: str = "tiny") -> dict:
    """A complete config from tests/configs/<name>.yaml."""
    return yaml.safe_load((REPO / "tests" / "configs" / f"{name}.yaml").read_text())


def copy_workflow(dest: Path, config: dict) -> Path:
    """A runnable copy of the workflow in ``dest`` whose config.yaml is ``config``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, dest / name)
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real snakemake in ``workdir``; output captured for assertions."""
    env = os.environ | {"PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def planned_rules(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that a dry run would schedule (empty: nothing to do)."""
    out = snakemake(workdir, "-n", "--quiet", "rules", *args).stdout
    counts: dict[str, int] = {}
    for line in out.splitlines():  # the first "Job stats" table; it is printed twice
        parts = line.split()
        if parts[:1] == ["total"]:
            break
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    counts.pop("all", None)
    return counts


@pytest.fixture(scope="session")
def sample() -> Path:
    if not (SAMPLE / "train.csv").exists():
        pytest.skip(f"shared real sample not found at {SAMPLE}")
    return SAMPLE


@pytest.fixture(scope="session")
def real_images(sample) -> dict[str, list[Path]]:
    """A few real PNG paths per class from the shared sample."""
    import pandas as pd

    frame = pd.read_csv(sample / "train.csv").sort_values("image_id")
    return {
        int(label): [sample / "train" / f"{i}.png" for i in rows["image_id"][:20]]
        for label, rows in frame.groupby("label")
    }
