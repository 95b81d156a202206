"""The benchmarks' harness (statistics, the machine's header line, tables) and the
benchmarks themselves: every one answers --help, and the cheap ones run end to end."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO

BENCHMARKS = REPO / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if p.name != "harness.py")


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("harness", BENCHMARKS / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("harness", None)


def test_statistics_of_rounds(harness):
    stats = harness.Stats.of([3.0, 1.0, 10.0, 2.0, 4.0])
    assert (stats.median, stats.min, stats.max, stats.n) == (3.0, 1.0, 10.0, 5)
    assert harness.Stats.of([4.0, 1.0, 2.0, 3.0]).median == 2.5
    rates = harness.per_second(100, [0.5, 1.0, 2.0])
    assert (rates.median, rates.min, rates.max) == (100.0, 50.0, 200.0)
    assert harness.spread(rates) == "100 (50-200)"
    assert harness.spread(harness.Stats.of([1234.5]), 1) == "1,234.5"
    with pytest.raises(ValueError, match="no samples"):
        harness.Stats.of([])


def test_rounds_interleave_the_measures_after_the_warmup(harness):
    calls = []

    def measure(name):
        def call():
            calls.append(name)
            return float(len(calls))

        return call

    kept = harness.rounds({"a": measure("a"), "b": measure("b")}, n=2, warmup=1)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert kept == {"a": [3.0, 5.0], "b": [4.0, 6.0]}
    seconds = harness.rounds({"sleep": harness.timer(lambda: None)}, n=3)["sleep"]
    assert len(seconds) == 3 and all(0 <= s < 1 for s in seconds)


def test_table_aligns_columns(harness):
    text = harness.table(("name", "rate"), [("a", "1,000"), ("longer", "5")])
    assert text.splitlines() == ["name     rate", "a       1,000", "longer      5"]
    with pytest.raises(ValueError, match="2 cells"):
        harness.table(("name", "rate"), [("a",)])


def test_header_names_the_cpu_and_its_flags(harness, tmp_path, capsys):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Example CPU 9000\n"
        "flags\t\t: fpu sse2 avx2 fma avx512f amx_tile amx_bf16\n\n"
    )
    line = harness.header(("numpy",), extra="backend test", cpuinfo=cpuinfo)
    assert capsys.readouterr().out.strip() == line
    assert line.startswith("# ") and "Example CPU 9000" in line
    assert "flags avx2 fma avx512f amx_tile amx_bf16 |" in line
    assert "avx512_bf16" not in line and "sse2" not in line
    assert "python " in line and "numpy " in line and line.endswith("| backend test")
    assert f"{harness.cores()} cores" in line

    bare = tmp_path / "bare"
    bare.write_text("model name\t: Old CPU\nflags\t\t: fpu sse2\n")
    assert "flags none of avx2" in harness.machine(cpuinfo=bare)
    assert harness.cpu_model(bare) == "Old CPU"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_benchmark_answers_help(script, tmp_path):
    done = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_gpu_check_answers_help(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gpu_check.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "1,250 validation" in done.stdout


@pytest.mark.parametrize(
    ("script", "rows"),
    [
        ("descriptors.py", ["PNG decoding (cv2.imread)", "hsv16", "lbp"]),
        ("ingest.py", ["decode only (cv2.imread), 1 thread", "ingest + HSV histograms, 1 thread"]),
    ],
)
def test_benchmark_runs_on_real_images(script, rows, sample, tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), str(sample), "--images", "20", "--rounds", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# ") and " cores | python " in lines[0]
    assert lines[1] == "20 images, one round"
    assert lines[2].startswith("measure ") and "images/s" in lines[2]
    names = [line.split("  ")[0].strip() for line in lines[3:]]
    for row in rows:
        assert any(name.startswith(row) for name in names), (row, names)
