"""Interrupted runs resume, through the real snakemake: a SIGKILLed training job
continues after its last checkpointed epoch, a failed job leaves the DAG
resumable, and in both cases the stages finished before are not redone."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SNAKEMAKE, copy_workflow, job_stats, load_config, planned_rules, snakemake

from deepfake.make_split import stratified_layout

pytestmark = pytest.mark.slow

# The tiny model runs ~0.3 s per epoch on 2 cores (the first ~3 s): the 10 epochs
# after the kill leave seconds in which to kill the job mid-run.
EPOCHS = 12
KILL_AFTER = 2  # kill once the checkpoint holds at least this many epochs
EPOCH_LINE = re.compile(r"train_cnn: epoch (\d+)/(\d+) loss")
RESUMED_LINE = re.compile(r"resuming from checkpoint (\S+) after epoch (\d+)")


def stamps(root: Path, patterns: list[str]) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every file matching ``patterns`` under ``root``."""
    found = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            st = path.stat()
            found[str(path.relative_to(root))] = (st.st_ino, st.st_mtime_ns)
    return found


def checkpoint_epoch(work_dir: Path) -> int:
    """Epochs completed in the run's checkpoint (0: none yet)."""
    # checkpoint-<key>.npz is replaced by rename: the path always names a whole file
    for path in work_dir.glob("checkpoint-*.npz"):
        try:
            with np.load(path, allow_pickle=False) as data:
                return int(json.loads(str(data["meta"]))["epoch"])
        except (OSError, ValueError, KeyError):  # replaced between glob and open
            return 0
    return 0


def group_alive(pgid: int) -> bool:
    """Whether a process (zombies aside) of process group ``pgid`` is left."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def test_sigkilled_training_resumes_after_its_last_epoch(tmp_path):
    config = load_config("tiny_cnn")
    config["cnn"]["base"]["epochs"] = EPOCHS
    config["cnn"]["variants"] = {"baseline": {}}
    workdir = copy_workflow(tmp_path / "wf", config)
    log = workdir / "results" / "logs" / "cnn" / "baseline.log"
    out = workdir / "results" / "cnn" / "baseline"
    work_dir = workdir / "results" / ".checkpoints" / "cnn" / "baseline"

    # 1. The whole workflow, killed (SIGKILL, process group and all) mid-training.
    start = time.perf_counter()
    with open(tmp_path / "first.out", "w") as first_out:
        proc = subprocess.Popen(
            [*SNAKEMAKE, "--cores", "2"],
            cwd=workdir,
            stdout=first_out,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONHASHSEED": "0"},
            start_new_session=True,
        )
        try:
            killed_at = None
            while time.perf_counter() - start < 300 and proc.poll() is None:
                text = log.read_text() if log.exists() else ""
                if EPOCH_LINE.search(text) and checkpoint_epoch(work_dir) >= KILL_AFTER:
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed_at = time.perf_counter() - start
                    break
                time.sleep(0.05)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    first = (tmp_path / "first.out").read_text()
    assert killed_at is not None, f"training never reached epoch {KILL_AFTER}:\n{first}"
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(proc.pid), "the training job outlived the kill"

    # Killed mid-run: no metrics yet, a checkpoint of epoch N with N < EPOCHS.
    assert not (out / "metrics.json").exists()
    (checkpoint,) = work_dir.glob("checkpoint-*.npz")
    killed_epoch = checkpoint_epoch(work_dir)
    logged = [int(m.group(1)) for m in EPOCH_LINE.finditer(log.read_text())]
    assert KILL_AFTER <= killed_epoch < EPOCHS
    assert logged[:killed_epoch] == list(range(1, killed_epoch + 1))
    assert max(logged) < EPOCHS
    finished = stamps(workdir / "results", ["demo/*.csv", "arrays/*.npz", "descriptors/hsv*/*.npy"])
    needed = ["arrays/train_aug.npz", "arrays/validation.npz", "arrays/test.npz"]
    needed += [f"descriptors/hsv16/{s}.npy" for s in ("train_aug", "validation", "test")]
    assert set(needed) <= set(finished)  # train_cnn's inputs, all there before it ran
    n_hist_left = 4 - len(list((workdir / "results" / "descriptors" / "hsv16").glob("*.npy")))

    # 2. A killed snakemake leaves its lock behind: a plain rerun is refused ...
    refused = snakemake(workdir, "--rerun-incomplete", check=False)
    assert refused.returncode != 0
    assert "Directory cannot be locked" in refused.stdout + refused.stderr
    assert checkpoint.exists()  # ... and touches nothing
    planned = planned_rules(workdir, "--rerun-incomplete")
    assert planned.get("train_cnn") == 1
    assert not {"demo_data", "ingest", "augment"} & set(planned)
    assert planned.get("descriptors", 0) == n_hist_left

    # 3. --unlock, then the rerun: it resumes after epoch N and finishes.
    snakemake(workdir, "--unlock")
    start = time.perf_counter()
    second = snakemake(workdir, "--rerun-incomplete")
    resume_seconds = time.perf_counter() - start
    output = second.stdout + second.stderr
    stats = job_stats(output)
    assert stats == planned, output
    assert "(Rule: train_cnn)" in output
    assert not re.search(r"\(Rule: (demo_data|ingest|augment)\)", output)

    # Snakemake deletes a job's log before running it, so the log now holds the
    # resumed attempt only (the killed one's epochs are in history.csv).
    text = log.read_text()
    resumed = RESUMED_LINE.findall(text)
    assert len(resumed) == 1, text
    assert Path(resumed[0][0]).name == checkpoint.name
    assert int(resumed[0][1]) == killed_epoch
    after = text.split("resuming from checkpoint", 1)[1]
    rerun = [int(m.group(1)) for m in EPOCH_LINE.finditer(after)]
    assert rerun == list(range(killed_epoch + 1, EPOCHS + 1))  # only the missing epochs

    history = pd.read_csv(out / "history.csv")
    assert len(history) == EPOCHS
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))  # 1-based, each once
    assert not checkpoint.exists() and not list(work_dir.parent.glob("*/checkpoint-*"))
    for name, stamp in finished.items():  # same file, never rewritten
        path = workdir / "results" / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, name

    # The same kind of result as an uninterrupted run.
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["val_accuracy"] <= 1.0
    assert metrics["resumed_after_epoch"] == killed_epoch
    assert metrics["epochs_run"] == EPOCHS
    for name, n in (("val_proba", 50), ("test_proba", 25)):
        proba = np.load(out / f"{name}.npy")
        assert proba.shape == (n, 5)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert (workdir / "results" / "submission.csv").exists()
    assert planned_rules(workdir) == {}

    # And the same numbers as an uninterrupted run (a copy, trained from scratch).
    copy = tmp_path / "uninterrupted"
    shutil.copytree(workdir, copy, symlinks=True)
    start = time.perf_counter()
    snakemake(copy, "results/cnn/baseline/val_proba.npy", "--forcerun", "train_cnn")
    full_seconds = time.perf_counter() - start
    assert "resuming" not in (copy / "results" / "logs" / "cnn" / "baseline.log").read_text()
    cols = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    reference = pd.read_csv(copy / "results" / "cnn" / "baseline" / "history.csv")
    pd.testing.assert_frame_equal(history[cols], reference[cols])
    for name in ("val_proba", "test_proba"):
        np.testing.assert_array_equal(
            np.load(out / f"{name}.npy"),
            np.load(copy / "results" / "cnn" / "baseline" / f"{name}.npy"),
        )
    print(
        f"\nkilled after epoch {killed_epoch}/{EPOCHS} (logged up to {max(logged)}) "
        f"{killed_at:.1f} s into the first run; resumed run {resume_seconds:.1f} s "
        f"({stats}); uninterrupted train_cnn job {full_seconds:.1f} s"
    )


def test_failed_job_leaves_the_dag_resumable(tmp_path, sample):
    data = tmp_path / "data"
    stratified_layout(sample, data, val_frac=0.5, per_class=10, seed=0)
    config = load_config("tiny") | {"data_dir": str(data)}
    workdir = copy_workflow(tmp_path / "wf", config)
    results = workdir / "results"

    # One validation image corrupted: a file of our own replaces the link (the
    # shared sample it points to is never written).
    victim = sorted((data / "validation").glob("*.png"))[0]
    original = victim.resolve()
    victim.unlink()
    victim.write_bytes(b"\x89PNG\r\n\x1a\n truncated")

    start = time.perf_counter()
    first = snakemake(workdir, "--keep-going", check=False)
    first_seconds = time.perf_counter() - start
    assert first.returncode != 0
    log = (workdir / "results" / "logs" / "ingest" / "validation.log").read_text()
    assert f"{victim}: not a decodable image" in log
    assert not (results / "arrays" / "validation.npz").exists()
    # --keep-going: the jobs that do not need the validation split all finished.
    done = [
        "arrays/train.npz",
        "arrays/test.npz",
        "arrays/train_aug.npz",
        "descriptors/hsv16/train.npy",
        "descriptors/hsv16/test.npy",
        "descriptors/hsv16/train_aug.npy",
        "figures/class_histograms.png",
        "figures/fingerprint_spectra.png",
        "figures/samples.png",
    ]
    finished = stamps(results, done)
    assert set(finished) == set(done), first.stdout + first.stderr
    assert not (results / "metrics" / "summary.csv").exists()

    # Repair, then resume: only the failed job and the jobs it held back run.
    victim.unlink()
    victim.symlink_to(original)
    start = time.perf_counter()
    second = snakemake(workdir, "--rerun-incomplete")
    second_seconds = time.perf_counter() - start
    stats = job_stats(second.stdout + second.stderr)
    assert stats == {
        "ingest": 1,  # validation only
        "descriptors": 1,  # hsv16/validation only
        "knn": 2,
        "evaluate": 2,
        "summary": 1,
        "submission": 1,
        "best_confusions": 1,
        "class_recall": 1,
        "report_page": 1,
        "reliability": 1,
        "split_check": 1,
    }, second.stdout + second.stderr
    for name, stamp in finished.items():
        path = results / name
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp, name
    assert len(pd.read_csv(results / "submission.csv")) == 25
    assert planned_rules(workdir) == {}
    print(f"\nfailed run {first_seconds:.1f} s, repaired rerun {second_seconds:.1f} s ({stats})")
