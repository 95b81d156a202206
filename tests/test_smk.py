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
        "import deepfake.features, numpy, threadpoolctl\n"
        "print(json.dumps([p['num_threads'] for p in threadpoolctl.threadpool_info()"
        " if p['user_api'] == 'blas']))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) and set(json.loads(out.stdout)) == {1}  # default: one per core


def test_prints_and_warnings_reach_the_log(tmp_path):
    log = tmp_path / "logs" / "rule.log"

    def main(smk):
        print("a stray print")
        warnings.warn("a library warning", UserWarning, stacklevel=1)

    run(main, SimpleNamespace(log=[str(log)], threads=1))
    text = log.read_text()
    assert "a stray print" in text and "a library warning" in text
