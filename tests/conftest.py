"""Shared fixtures: real images from the shared sample, and workflow copies to run.

Whole demo runs are the suite's cost. A run that several test files read is built once
per test run (:func:`shared_run`: on disk, locked across the xdist workers) and each file
works in its own copy of it (:func:`copy_run`), so none sees another's edits."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

# The workers' own OpenMP threads (scikit-learn in the unit tests) wait as a workflow
# job's do (deepfake.threads): several workers share the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


def _runs_root(tmp_path_factory) -> Path:
    """The folder of the test run's shared runs: one for all xdist workers (their base
    temporary folders share a parent) where a lock can be held across processes, else
    each worker's own."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") and _can_lock():
        base = base.parent
    root = base / "shared_runs"
    root.mkdir(exist_ok=True)
    return root


def _can_lock() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # Windows
        return False
    return True


@contextlib.contextmanager
def _locked(path: Path):
    """Holds an exclusive lock on ``path`` (created) across processes; where there is
    no ``fcntl`` (Windows) no lock, and :func:`_runs_root` gives each worker its own."""
    if not _can_lock():
        yield
        return
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_run(tmp_path_factory, name: str, config: dict, *steps: tuple[str, ...]) -> Path:
    """The workflow with ``config`` run to completion once per test run: the first test
    file that asks builds it (``snakemake`` with each of ``steps``' arguments in turn;
    none: one plain run), the others wait for it and find it done. Read it, never change
    it: a test file that runs anything in it takes :func:`copy_run`."""
    root = _runs_root(tmp_path_factory)
    workdir, done = root / name, root / f"{name}.done.json"
    with _locked(root / f"{name}.lock"):
        if done.exists():
            recorded = json.loads(done.read_text())
            if recorded["config"] != config or recorded["steps"] != [list(s) for s in steps]:
                raise AssertionError(f"shared run {name!r} asked for with two configs")
            return workdir
        shutil.rmtree(workdir, ignore_errors=True)  # a build that failed half-way
        copy_workflow(workdir, config)
        for i, args in enumerate(steps or ((),)):
            done_step = snakemake(workdir, *args)
            (root / f"{name}.{i}.out").write_text(done_step.stdout + done_step.stderr)
        done.write_text(json.dumps({"config": config, "steps": [list(s) for s in steps]}))
    return workdir


def shared_output(run: Path, step: int = 0) -> str:
    """What Snakemake printed (stdout, then stderr) at ``step`` of the shared ``run``."""
    return (run.parent / f"{run.name}.{step}.out").read_text()


def copy_run(run: Path, dest: Path) -> Path:
    """A copy of a finished run that a test may change: files, times and Snakemake's
    records, so Snakemake finds it as complete as the original."""
    shutil.copytree(run, dest, symlinks=True)
    return dest


def copy_run_with(run: Path, dest: Path, config: dict) -> Path:
    """:func:`copy_run` with its config.yaml replaced by ``config``: a test that changes
    only the models starts from the run's data, arrays and descriptors."""
    copy_run(run, dest)
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


# The test files that take longest, longest first: the xdist workers start them first
# and finish together on the small files (pyproject.toml keeps this order:
# --no-loadscope-reorder). The shared runs' builders come first; the files that only
# read the main command's run come after the others, so that it is built when they
# start (a worker waiting on a shared run's lock does nothing). The SLURM run mostly
# waits on its scheduler, so it starts beside the busiest files. Other files follow in
# their usual order.
SLOWEST_FIRST = [
    "test_main_command.py",
    "test_predict_workflow.py",
    "test_slurm.py",
    "test_resume.py",
    "test_train_workflow.py",
    "test_backends.py",
    "test_train_options.py",
    "test_gpu_path.py",
    "test_shipped_model.py",
    "test_entry_points.py",
    "test_train.py",
    "test_refit.py",
    "test_new_family.py",
    "test_xla.py",
    "test_rerun.py",
    "test_cnn_workflow.py",
    "test_report.py",
    "test_workflow.py",
    "test_networks.py",
    "test_cli.py",
    "test_user_errors.py",
]


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker more than the cores this process may use. Some files
    mostly wait (the SLURM run on its scheduler, the report on the browser, every
    workflow on its jobs' start-up); the extra worker keeps the cores busy meanwhile."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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


@pytest.fixture(scope="session")
def main_shared(tmp_path_factory) -> Path:
    """The README's main command (config.yaml as shipped: every CNN variant of the
    report's ablation, six KNN, the gbm and their ensemble on the demo data), run once,
    then its HTML report (tests/test_main_command.py, test_cnn_workflow.py,
    test_report.py, test_rerun.py); :func:`shared_output` gives its terminal."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return shared_run(tmp_path_factory, "main", config, (), ("--report", "results/report.html"))


@pytest.fixture(scope="session")
def tiny_run_shared(tmp_path_factory) -> Path:
    """tests/configs/tiny.yaml run once on the demo data (read it; copy it to change)."""
    return shared_run(tmp_path_factory, "tiny", load_config("tiny"))


# Every model kind in one tiny run (tests/test_predict_workflow.py, test_shipped_model.py,
# test_entry_points.py): each descriptor's KNN (both votings among them), raw pixels, the
# combination, the gradient-boosted trees, each network architecture (the fast one with
# the fingerprint input, and once trained on random crops and predicted with test-time
# augmentation), an ensemble of three families, the unknown-image detector and a shipped
# folder of it.
NETWORK_VARIANTS = {
    "paper": {"network": "paper", "filters": [4, 4, 8, 8, 8]},
    "resnet": {"network": "resnet", "filters": [4, 8], "blocks": [1, 0]},
    "fast_fp": {
        "network": "fast",
        "patch": 4,
        "filters": [4, 8],
        "blocks": [1, 1],
        "fingerprint": ["spectrum", "cooc"],
    },
    "fast_crop_tta": {
        "network": "fast",
        "patch": 4,
        "filters": [4, 8],
        "crop": 48,
        "precise_bn": 64,
        "tta": ["hflip", "vflip"],
    },
}


def every_model_config() -> dict:
    config = load_config("tiny")
    config["knn"] = {
        "k": [1, 3, 5],
        "weights": ["uniform", "distance"],
        "descriptors": ["hsv", "pixels", "jointhsv", "spectrum", "lbp", "combo"],
        "combination": {"groups": ["hsv", "spectrum", "lbp"], "group_weights": [0, 1]},
    }
    # the trees learn from the stored copies, which travel (a resize, a JPEG save)
    config["gbm"] = {"descriptors": ["hsv", "cooc"], "max_iter": 10, "augmented": True}
    config["augment"] |= {"jpeg": 0.5, "resize": 0.25}
    config["cnn"]["select_on_validation"] = False
    config["cnn"]["base"] |= {"hist_units": 8, "dense_units": 16, "epochs": 1, "batch_size": 32}
    config["cnn"]["variants"] = NETWORK_VARIANTS
    config["ensemble"] = {
        "name": "mixed",
        "members": ["cnn/paper", "knn/combo", "gbm/fingerprints"],
        "combine": "geometric",
    }
    # every model's temperature is fitted on held-out training images
    config["calibration"] = {"holdout": 0.2, "seed": 1}
    config["unknowns"] = {"descriptors": ["cooc", "spectrum", "hsv"], "dims": 8}
    config["ship"] = {"model": "ensemble/mixed", "folder": "models/tiny"}
    return config


@pytest.fixture(scope="session")
def every_model_shared(tmp_path_factory) -> Path:
    """:func:`every_model_config` run once, then its ensemble shipped (read it; copy it
    to change)."""
    return shared_run(tmp_path_factory, "every_model", every_model_config(), ("all", "ship_model"))
