"""Entry-point glue: thread caps that take effect, prints and warnings in the rule's log."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from types import SimpleNamespace

from conftest import REPO

from deepfake.smk import run


def test_blas_threads_follow_the_rule_in_a_snakemake_job():
    """As in a job: ``snakemake`` in __main__, then the package (and numpy) imported."""
    code = (
        "import types, json\n"
        "snakemake = types.SimpleNamespace(threads=1)\n"
        "import deepfake.descriptors, numpy, threadpoolctl\n"
        "print(json.dumps([p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['user_api'] == 'blas']))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) and set(json.loads(out.stdout)) == {1}  # default: one per core


def test_openmp_threads_of_a_job_sleep_while_they_wait_unless_told_otherwise():
    """A spinning OpenMP thread takes the core of the job beside it: a job's threads wait
    passively, as the libraries read it when they load; a user's own setting stays."""
    code = (
        "import os, types\n"
        "snakemake = types.SimpleNamespace(threads=2)\n"
        "import deepfake\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "scripts")}
    for env, expected in ((base, "PASSIVE"), (base | {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE")):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [expected]


def test_prints_and_warnings_reach_the_log(tmp_path):
    log = tmp_path / "logs" / "rule.log"

    def main(smk):
        print("a stray print")
        warnings.warn("a library warning", UserWarning, stacklevel=1)

    run(main, SimpleNamespace(log=[str(log)], threads=1))
    text = log.read_text()
    assert "a stray print" in text and "a library warning" in text


JOB = """
import logging, os, sys, types
from deepfake.smk import run

def main(smk):
    os.write(2, b"E0000 a native library's start-up line\\n")
    print("a stray print")
    logging.info("progress that belongs in the log")
    logging.warning("something the person should see")
    if sys.argv[1] == "fail":
        raise ValueError("the input is wrong")

run(main, types.SimpleNamespace(log=[sys.argv[2]], threads=1, rule="knn"))
"""


def run_job(tmp_path, outcome):
    log = tmp_path / "knn.log"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "scripts")}
    done = subprocess.run(
        [sys.executable, "-c", JOB, outcome, str(log)], env=env, capture_output=True, text=True
    )
    return done, log.read_text()


def test_the_terminal_gets_the_jobs_warnings_and_the_log_everything_else(tmp_path):
    done, log = run_job(tmp_path, "ok")
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["WARNING knn: something the person should see"]
    for line in ("E0000 a native", "a stray print", "INFO knn: progress", "WARNING knn: some"):
        assert line in log
    assert "root" not in log  # a script's logging.info is named after its rule
    loaded = log.splitlines()[-1].split("package modules loaded: ")[1].split()
    assert {"scripts/deepfake/smk.py", "scripts/deepfake/threads.py"} <= set(loaded)


def test_a_failing_job_says_why_in_one_line_and_keeps_the_traceback_in_its_log(tmp_path):
    done, log = run_job(tmp_path, "fail")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[-1] == f"ERROR knn: ValueError: the input is wrong (log: {tmp_path / 'knn.log'})"
    assert "Traceback" not in done.stderr
    assert "Traceback (most recent call last)" in log and "ValueError: the input is wrong" in log


def test_a_run_ends_saying_where_its_results_are():
    from deepfake.console import finished_message, job_counts
    from deepfake.layout import Layout

    ran = finished_message(
        set(),
        Layout("results/real"),
        ["config.fast.yaml"],
        {"data_dir": "/d", "predict_dir": "x"},
        ".venv/bin/snakemake",
    )
    assert ran.splitlines() == [
        "Summary of every model: results/real/metrics/summary.csv",
        "Submission: results/real/submission.csv",
        "HTML report: .venv/bin/snakemake --report results/real/report.html "
        "--configfile config.fast.yaml --config data_dir=/d",
    ]
    assert finished_message(["predict"], Layout("results"), argv0="/x/python") == (
        "Predictions: results/predictions.csv"
    )
    assert job_counts({"knn": 6, "descriptors": 25, "all": 1, "total": 32}) == (
        "31 jobs: 25 descriptors, 6 knn"
    )


def test_the_report_command_it_prints_survives_the_shell():
    import shlex

    from deepfake.console import finished_message
    from deepfake.layout import Layout

    config = {"knn": {"k": [3, 5]}, "results_dir": "my results", "data_dir": "/d"}
    line = finished_message([], Layout("my results"), ["a b.yaml"], config).splitlines()[-1]
    words = shlex.split(line.removeprefix("HTML report: "))
    assert words[words.index("--configfile") + 1] == "a b.yaml"
    given = words[words.index("--config") + 1 :]
    assert given == ['knn={"k": [3, 5]}', "results_dir=my results", "data_dir=/d"]
