"""Every rule's script runs alone: ``python scripts/<rule>.py WILDCARD=VALUE ...`` asks
Snakemake to build the rule's job from the Snakefile (its real inputs, params, log) and
gives back the rule's own output; and no code reaches the package through sys.path."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, copy_run

SCRIPTS = sorted(p for p in (REPO / "scripts").glob("*.py"))


def test_every_script_runs_alone_or_inside_snakemake():
    for script in SCRIPTS:
        text = script.read_text()
        if script.name == "model.py":  # the rules of the registry's families, by name
            assert "job_alone(sys.argv[1:])" in text
            shared = (REPO / "rules" / "model.smk").read_text()
            assert "name:\n            family.rule" in shared and "scripts/model.py" in shared
            continue
        found = re.search(r'job_from_argv\("(\w+)"\)', text)
        assert found, f"{script.name} cannot run alone"
        rule = found.group(1)
        rules = " ".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
        block = re.search(rf"(?:rule|checkpoint) {rule}:(.*?)(?:\n(?:rule|checkpoint) |\Z)",
                          rules, flags=re.S)  # fmt: skip
        assert block and f"scripts/{script.name}" in block.group(1), (script.name, rule)


def test_no_code_outside_the_tests_edits_sys_path():
    files = [*REPO.glob("*.py"), *REPO.glob("Snakefile")]
    for folder in ("scripts", "rules", "tools", "benchmarks", "experiments"):
        files += [p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".smk", ".sh")]
    assert [str(p) for p in files if "sys.path" in p.read_text()] == []


@pytest.fixture(scope="module")
def run(every_model_shared, tmp_path_factory):
    """The shared run of every model kind, in a copy of its own (each test deletes one
    output and puts the results back)."""
    return copy_run(every_model_shared, tmp_path_factory.mktemp("alone") / "wf")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "wildcards", "output"),
    [
        (
            "descriptors.py",
            ["descriptor=cooc", "set=validation"],
            "descriptors/cooc/validation.npy",
        ),
        ("model.py", ["knn", "name=hsv16"], "knn/hsv16/val_proba.npy"),
        ("model.py", ["knn", "name=pixels"], "knn/pixels/val_proba.npy"),
        ("model.py", ["gbm", "name=fingerprints"], "gbm/fingerprints/val_proba.npy"),
        ("train_cnn.py", ["variant=paper"], "cnn/paper/val_proba.npy"),
        ("summary.py", [], "metrics/summary.csv"),
    ],
)
def test_a_script_run_alone_gives_the_rules_output(run, tmp_path, script, wildcards, output):
    path = run / "results" / output
    made = path.read_bytes()
    kept = tmp_path / "kept"
    shutil.copytree(run / "results", kept)  # the run as Snakemake left it
    try:
        path.unlink()
        done = subprocess.run(
            [sys.executable, str(run / "scripts" / script), *wildcards, "--directory", str(run)],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        if path.suffix == ".npy":
            np.testing.assert_array_equal(np.load(path), np.load(kept / output))
        else:
            assert path.read_bytes() == made
    finally:
        shutil.rmtree(run / "results")
        shutil.copytree(kept, run / "results")
