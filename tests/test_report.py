"""The Snakemake report as a person sees it: opened in a real headless browser (Debian's
chromium, which .ci/run installs), it shows its landing page without script errors, the
summary as an HTML table, a card per model, the demo warning, and every figure; a
screenshot of it lands in results/ (the repository's, for people to look at)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, copy_workflow, load_config, snakemake

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
FIGURES = ["class_recall.png", "confusion_best.png", "class_histograms.png", "samples.png"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no chromium here (.ci/run installs Debian's)")
    return found


def browse(page, tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
         "--virtual-time-budget=15000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    config = load_config("tiny_cnn")
    config["cnn"]["variants"] = {"baseline": {}, "cosine": {"schedule": "cosine"}}
    config["gbm"] = {"descriptors": ["hsv", "cooc"], "max_iter": 10}
    workdir = copy_workflow(tmp_path_factory.mktemp("report"), config)
    snakemake(workdir)
    snakemake(workdir, "--report", "results/report.html")
    return workdir


def test_the_report_opens_without_errors_and_shows_the_summary_and_cards(report, tmp_path):
    page = report / "results" / "report.html"
    shown = browse(page, tmp_path, "--dump-dom")
    assert shown.returncode == 0, shown.stderr[-2000:]
    errors = [line for line in shown.stderr.splitlines() if "Uncaught" in line]
    assert errors == []
    # what the page shows: the DOM the report's scripts rendered, without the scripts
    dom = re.sub(r"<script.*?</script>", "", shown.stdout, flags=re.S)
    app = dom[dom.index('<div id="app">') :]
    rows = pd.read_csv(report / "results" / "metrics" / "summary.csv")
    table = re.search(r'<table class="summary">.*?</table>', app, flags=re.S)
    assert table, "no summary table on the landing page"
    for model, variant in zip(rows["model"], rows["variant"], strict=True):
        assert f"{model}/{variant}" in table.group(0)  # one row per model
        assert app.count(f"{model}/{variant}") >= 2  # and its card
    assert "synthetic demo set" in app  # the warning
    assert "Model cards" in app and "weakest class" in app
    # the configuration, filled in by Snakemake when it built the report
    config = app[app.index("Configuration") :]
    assert "histogram_bins" in config and '"n_train": 100' in config


def embedded_results(page) -> dict:
    """The report's results (file -> name, caption, mime type, data URI), as embedded."""
    source = page.read_text()
    script = source[source.index('<script id="results">') :]
    body = script[: script.index("</script>")].split("var results = ", 1)[1]
    return json.loads(body.strip().rstrip(";"))


def test_every_figure_is_in_the_report_with_its_caption(report):
    results = embedded_results(report / "results" / "report.html")
    by_name = {Path(path).name: entry for path, entry in results.items()}
    for name in [*FIGURES, "summary.html"]:
        assert name in by_name, name
        assert len(re.sub(r"<[^>]+>", "", by_name[name]["caption"]).strip()) > 40, name
    for path, entry in results.items():
        if entry["mime_type"] == "image/png":  # every figure is the PNG the run wrote
            data = base64.b64decode(entry["data_uri"].split("base64,", 1)[1])
            assert data == (report / path).read_bytes(), path
    captions = " ".join(entry["caption"] for entry in results.values())
    for caption in ("Recall of every class", "Confusion matrices of", "One row per model"):
        assert caption in captions, caption


def test_a_screenshot_is_written_for_people_to_look_at(report, tmp_path):
    shot = REPO / "results" / "report_screenshot.png"
    shot.unlink(missing_ok=True)
    done = browse(
        report / "results" / "report.html", tmp_path, f"--screenshot={shot}",
        "--window-size=1400,3600",  # the whole landing page
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    shutil.copy(shot, report / "results" / "report_screenshot.png")
