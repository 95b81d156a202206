"""What docs/gpu.md tells a user to run on a GPU node and on a SLURM cluster with GPUs.

- The JAX backend through the workflow, on the CPU (CI has no GPU; the code a GPU node
  runs is the same): ``KERAS_BACKEND=jax``, a one-variant, one-epoch ``train_cnn`` and
  ``predict`` on the demo's validation images, which gives back the model's validation
  probabilities.
- ``tools/gpu_workflow.sh`` stops on the terminal, before starting anything, when its
  Python has no Snakemake or a CONFIG is missing.
- ``profiles/slurm-gpu``: a dry run of the documented command plans every
  ``train_cnn`` job of ``config.best.yaml`` with one GPU, its threads and a runtime,
  the CPU jobs without a GPU, and stops at start-up when ``KERAS_BACKEND`` is unset.
  Nothing is submitted: the SLURM executor only plans under ``-n`` (no SLURM needed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_run_with, copy_workflow, load_config, snakemake

PROFILE = REPO / "profiles" / "slurm-gpu" / "config.v8+.yaml"
GPU_WORKFLOW = REPO / "tools" / "gpu_workflow.sh"


@pytest.fixture(scope="module")
def jax_run(tiny_run_shared, tmp_path_factory):
    """A one-variant, one-epoch CNN (tiny_cnn's baseline) trained under KERAS_BACKEND=jax
    in a copy of the shared tiny run (its data and arrays), then used by predict."""
    pytest.importorskip("jax", reason="the JAX backend needs jax (requirements-dev.txt)")
    config = load_config("tiny_cnn")
    config["cnn"]["variants"] = {"baseline": {}}
    workdir = copy_run_with(tiny_run_shared, tmp_path_factory.mktemp("jax") / "wf", config)
    folder = workdir / "results" / "demo" / "validation"
    with pytest.MonkeyPatch.context() as env:  # conftest.snakemake passes os.environ on
        env.setenv("KERAS_BACKEND", "jax")
        snakemake(workdir, "results/cnn/baseline/metrics.json")
        snakemake(workdir, "predict", "--config", f"predict_dir={folder}",
                  "predict_model=cnn/baseline")  # fmt: skip
    return workdir


@pytest.mark.slow
def test_train_cnn_runs_on_jax(jax_run):
    folder = jax_run / "results" / "cnn" / "baseline"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["backend"] == "jax"
    assert "jax" in json.dumps(metrics["versions"])  # the backend's version is recorded
    assert (folder / "model.keras").stat().st_size > 0
    assert np.load(folder / "val_proba.npy").shape == (50, 5)


@pytest.mark.slow
def test_predict_on_jax_gives_back_the_validation_probabilities(jax_run):
    assert "backend jax" in (jax_run / "results" / "logs" / "predict.log").read_text()
    with np.load(jax_run / "results" / "arrays" / "validation.npz") as arrays:
        names = [f"{i}.png" for i in arrays["ids"]]
    table = pd.read_csv(jax_run / "results" / "predictions.csv", dtype={"image_id": str})
    table = table.set_index("image_id").loc[names]
    assert table["model"].eq("cnn/baseline").all()
    got = table[[f"proba_{c}" for c in range(5)]].to_numpy(np.float32)
    expected = np.load(jax_run / "results" / "cnn" / "baseline" / "val_proba.npy")
    np.testing.assert_allclose(got, expected, atol=1e-5)


def competition_layout(folder: Path) -> Path:
    """A minimal data folder in the competition's layout: what a dry run reads of it."""
    rows = {"train": ["a", "b", "c", "d", "e"], "validation": ["f", "g"], "test": ["f", "g"]}
    for split, ids in rows.items():
        (folder / split).mkdir(parents=True)
        for image_id in ids:
            (folder / split / f"{image_id}.png").write_bytes(b"")
        frame = pd.DataFrame({"image_id": ids})
        if split != "test":
            frame["label"] = range(len(ids))
        frame.to_csv(folder / f"{split}.csv", index=False)
    return folder


def planned_jobs(output: str, rule: str) -> list[dict]:
    """Each planned job of ``rule`` in a dry run's output: its threads (1 when not
    printed) and resources."""
    jobs = []
    for block in re.findall(rf"^rule {rule}:\n((?:[ \t]+.*\n?)*)", output, flags=re.M):
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", block, flags=re.M))
        resources = dict(item.split("=", 1) for item in fields["resources"].split(", "))
        jobs.append({"threads": int(fields.get("threads", 1)), "resources": resources})
    return jobs


def slurm_gpu_dry_run(workdir: Path, data: Path, *extra: str, **env: str):
    """The documented command, as a dry run: ``snakemake -n --profile profiles/slurm-gpu
    --configfile config.best.yaml --config data_dir=...`` (``extra``: more arguments),
    with each job's listing (``--quiet host``: the workflow profile hides it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KERAS_BACKEND", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        result = snakemake(
            workdir, "-n", "--quiet", "host", "--profile", "profiles/slurm-gpu", "--configfile",
            "config.best.yaml", "--config", f"data_dir={data}", *extra, check=False,
        )  # fmt: skip
    output = result.stdout + result.stderr
    if result.returncode != 0 and re.search(r"\b(sbatch|sinfo|squeue|sacct|scontrol)\b", output):
        pytest.skip(f"the SLURM executor cannot plan without SLURM here:\n{output[-2000:]}")
    return result.returncode, output


@pytest.fixture(scope="module")
def best_workflow(tmp_path_factory):
    """A workflow copy with config.best.yaml and a data folder in the competition's layout."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    root = tmp_path_factory.mktemp("slurm_gpu")
    workdir = copy_workflow(root / "workflow", yaml.safe_load((REPO / "config.yaml").read_text()))
    (workdir / "config.best.yaml").write_text((REPO / "config.best.yaml").read_text())
    return workdir, competition_layout(root / "data")


def test_the_gpu_profile_gives_train_cnn_a_gpu_threads_and_time(best_workflow):
    from snakemake.utils import available_cpu_count

    workdir, data = best_workflow
    returncode, output = slurm_gpu_dry_run(workdir, data, KERAS_BACKEND="jax")
    assert returncode == 0, output
    jobs = planned_jobs(output, "train_cnn")
    best = yaml.safe_load((REPO / "config.best.yaml").read_text())
    assert len(jobs) == len(best["cnn"]["train"])
    profile = yaml.safe_load(PROFILE.read_text())
    threads = profile["set-threads"]["train_cnn"]
    for job in jobs:
        assert job["resources"]["gpu"] == "1"
        assert job["resources"]["runtime"] == str(profile["set-resources"]["train_cnn"]["runtime"])
        # Snakemake caps threads at --cores: profiles/default's "all" of the submitting host
        assert job["threads"] == min(threads, available_cpu_count())
    assert threads >= 4 and int(jobs[0]["resources"]["runtime"]) >= 60
    for rule in ("ingest", "descriptors", "knn", "gbm"):
        planned = planned_jobs(output, rule)
        assert planned, rule
        assert all(job["resources"].get("gpu", "0") == "0" for job in planned), rule


def test_the_gpu_profile_stops_without_a_keras_backend(best_workflow):
    returncode, output = slurm_gpu_dry_run(*best_workflow)
    assert returncode != 0
    assert "KERAS_BACKEND" in output


def test_the_slurm_plugin_asks_for_the_gpu_and_the_threads():
    """What snakemake-executor-plugin-slurm makes of the profile's train_cnn resources:
    sbatch --gpus=1 --cpus-per-task=<threads>."""
    utils = pytest.importorskip("snakemake_executor_plugin_slurm.utils")
    jobstep = pytest.importorskip("snakemake_executor_plugin_slurm_jobstep")
    profile = yaml.safe_load(PROFILE.read_text())

    class Resources(dict):
        __getattr__ = dict.__getitem__

    class Job:
        resources = Resources(profile["set-resources"]["train_cnn"])
        threads = profile["set-threads"]["train_cnn"]

    assert utils.set_gres_string(Job()).split() == ["--gpus=1"]
    assert jobstep.get_cpu_setting(Job(), True) == f"--cpus-per-task={Job.threads}"


def gpu_workflow(tmp_path: Path, *configs: str, python: str | None = None):
    env = os.environ | ({"PYTHON": python} if python else {})
    return subprocess.run(
        ["bash", str(GPU_WORKFLOW), "demo", str(tmp_path / "results.tgz"), "60", *configs],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_gpu_workflow_stops_loudly_without_snakemake(tmp_path):
    result = gpu_workflow(tmp_path, "config.best.yaml", python="false")
    assert result.returncode == 1
    assert "no Snakemake in false" in result.stderr
    assert "docs/gpu.md" in result.stderr
    assert not (tmp_path / "results.tgz").exists()


def test_gpu_workflow_stops_loudly_on_a_missing_config(tmp_path):
    result = gpu_workflow(tmp_path, "config.best.yaml+experiments/no-such-overlay.yaml")
    assert result.returncode == 1
    assert "no-such-overlay.yaml" in result.stderr
    assert not (tmp_path / "results.tgz").exists()


def test_partition_and_account_come_from_the_command_line(best_workflow):
    """As the README says: no tracked profile file to edit."""
    workdir, data = best_workflow
    returncode, output = slurm_gpu_dry_run(
        workdir, data, "--default-resources", "slurm_partition=short", "slurm_account=lab",
        KERAS_BACKEND="jax",
    )  # fmt: skip
    assert returncode == 0, output
    for rule in ("ingest", "descriptors", "train_cnn"):
        for job in planned_jobs(output, rule):
            assert job["resources"]["slurm_partition"] == "short", (rule, job)
            assert job["resources"]["slurm_account"] == "lab", (rule, job)
    assert all(job["resources"]["gpu"] == "1" for job in planned_jobs(output, "train_cnn"))
