"""Shared fixtures: real images from the shared sample, and workflow copies to run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "deepfake-train-sample"
WORKFLOW_FILES = ["Snakefile", "rules", "scripts", "schemas", "report", "profiles", "envs"]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def load_config(name: str = "tiny") -> dict:
    """A complete config from tests/configs/<name>.yaml."""
    return yaml.safe_load((REPO / "tests" / "configs" / f"{name}.yaml").read_text())


def validated(config: dict) -> dict:
    """``config`` as the workflow sees it: checked against the schema, every default
    filled in (a copy)."""
    import copy

    from deepfake.config import check_config

    config = copy.deepcopy(config)
    check_config(config, REPO / "schemas" / "config.schema.yaml")
    return config


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


def job_stats(output: str) -> dict[str, int]:
    """Jobs per rule in the first "Job stats" table of snakemake's output (a dry run's), or
    in the one line a run prints instead ("8 jobs: 1 evaluate, ..."); ``all`` left out."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    if "Job stats:" not in lines:
        line = next((x for x in lines if re.match(r"^\d+ jobs: ", x)), "")
        for part in line.partition(": ")[2].split(", ") if line else []:
            n, rule = part.split()
            counts[rule] = int(n)
        return counts
    for line in lines[lines.index("Job stats:") + 1 :]:
        parts = line.split()
        if parts[:1] == ["total"]:
            break
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    counts.pop("all", None)
    return counts


def planned_rules(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule that a dry run would schedule (empty: nothing to do, as Snakemake
    says, not an output this cannot read)."""
    result = snakemake(workdir, "-n", "--quiet", "rules", *args)
    counts = job_stats(result.stdout)
    assert counts or "Nothing to be done" in result.stdout + result.stderr, result.stdout
    return counts


def edited(run, module):
    """Jobs per rule that a dry run plans after a comment line is appended to
    ``scripts/deepfake/<module>`` (a real edit: Snakemake skips an input whose checksum
    is unchanged, a bare touch); the file is put back as it was, its times too."""
    path = run / "scripts" / "deepfake" / module
    original, stat = path.read_bytes(), path.stat()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        return planned_rules(run)
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# A CNN small enough to train in seconds, for the training and backend tests.
TINY_TRAIN_PARAMS = {
    "bins": 4,
    "filters": [4, 6, 8, 8, 12],
    "hist_units": 8,
    "dense_units": 16,
    "dropout": 0.3,
    "head": "gap",
    "schedule": "plateau",
    "learning_rate": 0.003,
    "weight_decay": 1e-4,
    "batch_size": 32,
    "epochs": 6,
    "plateau_patience": 1,
    "plateau_factor": 0.5,
    "early_stopping_patience": 10,
    "mixed_precision": False,
    "jit_compile": False,
    "seed": 3,
}


def settings(params: dict):
    """The TrainSettings of a params dict (config keys), as the workflow builds them."""
    from deepfake.settings import TrainSettings

    return TrainSettings.from_params(params)


COLOURS = np.array([[200, 60, 60], [60, 200, 60], [60, 60, 200], [200, 200, 60], [60, 200, 200]])


def separable(n: int, seed: int, n_hist: int = 12) -> dict[str, np.ndarray]:
    """Separable classes: a class colour under heavy noise, and a histogram bump."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 5, n)
    noise = rng.normal(0, 50, (n, 100, 100, 3))
    image = np.clip(COLOURS[label][:, None, None, :] + noise, 0, 255).astype(np.uint8)
    hist = rng.random((n, n_hist), dtype=np.float32)
    hist[np.arange(n), label] += 0.5
    return {"image": image, "hist": hist, "label": label}


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
