"""End-to-end: the workflow runs on a real (single-node) SLURM cluster via profiles/slurm.

The fixture starts munged, slurmctld and slurmd from Debian's packages (apt-get installs
them when missing; the test is skipped, with the reason, only where that fails), the test
runs the workflow on the tiny config through `--profile profiles/slurm`
(snakemake-executor-plugin-slurm), checks that every job of the SLURM run was an sbatch
job that SLURM saw complete with exit status 0, and that it wrote the same
results/metrics/summary.csv as the shared local run of that config. The fixture
always stops the daemons it started (by pid) and puts /etc/slurm/slurm.conf back as it
found it.
See tests/slurm/README.md to run it by hand.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import copy_workflow, load_config

REPO = Path(__file__).resolve().parents[1]
SUMMARY = Path("results/metrics/summary.csv")
# Rules allowed to run on the submitting host instead of as SLURM jobs.
LOCAL_RULES_OK = {"all"}
# Largest difference allowed between numbers of the local and the SLURM summary.
SUMMARY_ATOL = 1e-6
RUN_TIMEOUT_S = 900

_spec = importlib.util.spec_from_file_location("slurm_cluster", REPO / "tests/slurm/cluster.py")
cluster_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cluster_mod)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.slurm,
    pytest.mark.skipif(not (REPO / "Snakefile").exists(), reason="no Snakefile in the repo yet"),
]


def slurm_test_args(cluster) -> list[str]:
    """Command-line settings that adapt profiles/slurm to the test cluster.

    No accounting database: job states from squeue, no account. No GPU: the CNN runs
    without one in the cluster's only partition. Status checks start after 2 s instead
    of 40 s, and the per-job SLURM logs are kept for the assertions.
    """
    return [
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--set-resources",
        "train_cnn:gpu=0",
        f"train_cnn:slurm_partition={cluster_mod.PARTITION}",
        "--max-threads",
        str(cluster.cpus),
    ]


def run_snakemake(workdir: Path, args: list[str], log_name: str) -> str:
    """Run snakemake in workdir; return its output, fail the test if it fails."""
    # --quiet host: every job's listing, which the workflow profile hides
    cmd = [sys.executable, "-m", "snakemake", "--quiet", "host", *args]
    log = workdir / log_name
    env = cluster_mod.SlurmCluster.env() | {"PYTHONHASHSEED": "0"}  # as tests/conftest.py
    with open(log, "w") as out:
        try:
            proc = subprocess.run(
                cmd,
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=RUN_TIMEOUT_S,
            )
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = f"timeout after {RUN_TIMEOUT_S} s"
    text = log.read_text(errors="replace")
    if rc != 0:
        tail = "\n".join(text.splitlines()[-60:])
        pytest.fail(f"snakemake failed ({rc}): {' '.join(cmd)}\n{tail}")
    return text


def run_workflow_on_slurm(workdir: Path, extra_args: list[str] = (), cluster=None) -> str:
    """Run the workflow in workdir through profiles/slurm on the given test cluster."""
    args = ["--profile", "profiles/slurm", *slurm_test_args(cluster), *extra_args]
    return run_snakemake(workdir, args, "slurm-run.log")


def assert_all_jobs_ran_on_slurm(log: str, cluster, workdir: Path) -> dict[str, list[str]]:
    """Every non-local job was submitted with sbatch and completed in SLURM with exit 0.

    Returns rule name -> SLURM job ids.
    """
    remote = re.findall(r"^(?:rule|checkpoint) (\S+):$", log, flags=re.M)
    local = re.findall(r"^localrule (\S+):$", log, flags=re.M)
    submitted = re.findall(
        r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$",
        log,
        flags=re.M,
    )
    assert remote, "the SLURM run ran no job"
    assert set(local) <= LOCAL_RULES_OK, f"jobs that ran outside SLURM: {sorted(set(local))}"
    assert len(submitted) == len(remote), (
        f"{len(remote)} jobs but {len(submitted)} sbatch submissions"
    )
    completed = cluster.completed_jobs()
    by_rule: dict[str, list[str]] = {}
    for _jobid, slurm_id, slurm_log in submitted:
        assert completed.get(slurm_id) == 0, (
            f"SLURM job {slurm_id} not seen completing with exit 0 "
            f"(slurmctld saw {completed.get(slurm_id)})\n{cluster.log_tail()}"
        )
        path = Path(slurm_log)
        assert path.is_file(), f"missing per-job SLURM log {path}"
        assert path.resolve().is_relative_to(workdir.resolve())
        rule = path.relative_to(workdir / ".snakemake/slurm_logs").parts[0]
        by_rule.setdefault(rule.removeprefix("rule_"), []).append(slurm_id)
    return by_rule


def assert_same_summary(local_csv: Path, slurm_csv: Path) -> None:
    import pandas as pd

    a, b = pd.read_csv(local_csv), pd.read_csv(slurm_csv)
    assert list(a.columns) == list(b.columns)
    assert a.shape == b.shape
    for col in a.columns:
        if "seconds" in col:  # timings: the machines' own
            continue
        if pd.api.types.is_numeric_dtype(a[col]) and pd.api.types.is_numeric_dtype(b[col]):
            diff = (a[col] - b[col]).abs().max()
            assert diff <= SUMMARY_ATOL or pd.isna(diff), f"{col}: differs by {diff}"
        else:
            assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    timings = {}
    if os.geteuid() != 0:
        reason = "not root: a test SLURM cluster needs /etc/slurm/slurm.conf and apt-get"
        print(reason)
        pytest.skip(reason)
    t0 = time.monotonic()
    reason = cluster_mod.ensure_installed()
    timings["install_s"] = time.monotonic() - t0
    if reason:
        print(f"SLURM not available: {reason}")
        pytest.skip(f"SLURM not available: {reason}")
    if pids := cluster_mod.running_daemons("slurmctld", "slurmd"):
        reason = f"SLURM daemons already running here (pids {pids}); not touching them"
        print(reason)
        pytest.skip(reason)
    cluster = cluster_mod.SlurmCluster(tmp_path_factory.mktemp("slurm-state"))
    t0 = time.monotonic()
    try:
        cluster.start()
        timings["start_s"] = time.monotonic() - t0
        cluster.timings = timings
        yield cluster
    finally:
        cluster.stop()
        print(f"SLURM cluster stopped; its logs are in {cluster.state_dir}")


def test_workflow_on_slurm_matches_local_run(
    slurm_cluster, tiny_run_shared, tmp_path, record_property
):
    timings = slurm_cluster.timings
    local_dir = tiny_run_shared  # the same config, run locally once for all the tests

    slurm_dir = copy_workflow(tmp_path / "slurm", load_config("tiny"))
    t0 = time.monotonic()
    log = run_workflow_on_slurm(slurm_dir, cluster=slurm_cluster)
    timings["slurm_run_s"] = time.monotonic() - t0

    by_rule = assert_all_jobs_ran_on_slurm(log, slurm_cluster, slurm_dir)
    assert_same_summary(local_dir / SUMMARY, slurm_dir / SUMMARY)

    print("SLURM jobs per rule:", {rule: len(ids) for rule, ids in by_rule.items()})
    print("timings:", {k: round(v, 1) for k, v in timings.items()})
    for key, value in timings.items():
        record_property(key, round(value, 1))
