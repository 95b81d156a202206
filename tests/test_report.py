"""The HTML report as a person sees it: opened in a real headless browser (Debian's
chromium, which .ci/run installs, driven by Playwright) in a 1400x900 window, its landing
page opens at its top with the summary table in the first screen, without script
errors, under a warning box that says the data is the synthetic demo, with every
column of the summary explained; every model has a card and the configuration a page
of their own; every figure is embedded with its caption and stamped as made from the
demo data. A screenshot of the first screen lands in results/ (the
repository's, for people to look at)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, copy_run
from PIL import Image

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
FIGURES = [
    "class_recall.png",
    "confusion_best.png",
    "class_histograms.png",
    "samples.png",
    "fingerprint_spectra.png",
]
SCREENSHOT = REPO / "results" / "report_screenshot.png"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no chromium here (.ci/run installs Debian's)")
    return found


@pytest.fixture(scope="module")
def report(main_shared, tmp_path_factory):
    """The shared run of the README's main command and its report, in a copy of its own
    (the screenshot lands in it)."""
    return copy_run(main_shared, tmp_path_factory.mktemp("report") / "wf")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (no browser download)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=[f for f in CHROMIUM_FLAGS if f != "--headless"]
        )
        yield launched
        launched.close()


def opened(browser, report, width=1400, height=900):
    """The report as a person opens it: a 1400x900 window, its scripts run, no error."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((report / "results" / "report.html").as_uri())
    page.get_by_text("Deepfake attribution: which of five generators").wait_for()
    assert errors == []
    return page


def test_the_landing_page_opens_at_its_top_with_the_summary_in_the_first_screen(browser, report):
    page = opened(browser, report)
    title = page.get_by_text("Deepfake attribution: which of five generators").bounding_box()
    assert 0 <= title["y"] and title["y"] + title["height"] <= 900  # in the first screen
    table = page.locator("table.summary")
    box = table.bounding_box()
    assert 0 <= box["y"] < 900  # the table starts in the first screen
    assert box["y"] + box["height"] <= 2 * 900  # and ends within one more
    rows = pd.read_csv(report / "results" / "metrics" / "summary.csv")
    cells = table.locator("tbody tr td:first-child").all_inner_texts()
    assert cells == rows["model"].tolist()  # one row per model, best first
    text = page.locator("#app").inner_text()
    # the demo warning: a box in the first screen, coloured apart from the page
    warning = page.locator("div.data-warning")
    assert warning.count() == 1 and warning.is_visible()
    box = warning.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= 900
    assert box["height"] > 40 and box["width"] > 300  # a box, not a word
    assert "synthetic demo data" in warning.inner_text()
    assert "say nothing about real data" in " ".join(warning.inner_text().split())
    colour = warning.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
    assert colour != page_background(warning)
    # how to read the table: the protocols above it, every column below it
    assert text.index("optimistic") < text.index(cells[0])
    for column in rows.columns:
        assert column in text, column
    assert f"best model {rows['model'][0].replace('/', '_')}.html" in " ".join(text.split())
    page.screenshot(path=str(SCREENSHOT))  # what a person sees, for the repository
    shutil.copy(SCREENSHOT, report / "results" / "report_screenshot.png")
    page.close()


def test_every_model_has_a_card_and_the_configuration_a_page(browser, report):
    results = embedded_results(report / "results" / "report.html")
    by_name = {Path(path).name: entry for path, entry in results.items()}
    rows = pd.read_csv(report / "results" / "metrics" / "summary.csv")
    for model in rows["model"]:
        card = by_name[f"{model.replace('/', '_')}.html"]
        html = base64.b64decode(card["data_uri"].split("base64,", 1)[1]).decode()
        assert f"<h1>{model}</h1>" in html and "weakest class" in html
        assert "synthetic demo" in html and "training time" in html
    config = by_name["configuration.html"]
    html = base64.b64decode(config["data_uri"].split("base64,", 1)[1]).decode()
    assert "histogram_bins" in html and "&quot;n_train&quot;: 1000" in html
    # the menu leads to them
    page = opened(browser, report)
    page.get_by_text("Model cards", exact=True).first.click()
    page.get_by_text(f"{rows['model'][0]}", exact=False).first.wait_for()
    page.close()


def page_background(element) -> str:
    """The background colour behind ``element``: its nearest ancestor's that is not
    transparent (white where none is)."""
    return element.evaluate(
        """e => {
            for (let a = e.parentElement; a; a = a.parentElement) {
                const colour = getComputedStyle(a).backgroundColor;
                if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
            }
            return "rgb(255, 255, 255)";
        }"""
    )


def embedded_results(page) -> dict:
    """The report's results (file -> name, caption, mime type, data URI), as embedded."""
    source = page.read_text()
    script = source[source.index('<script id="results">') :]
    body = script[: script.index("</script>")].split("var results = ", 1)[1]
    return json.loads(body.strip().rstrip(";"))


def test_every_figure_is_in_the_report_with_its_caption(report):
    results = embedded_results(report / "results" / "report.html")
    by_name = {Path(path).name: entry for path, entry in results.items()}
    for name in [*FIGURES, "summary.html", "configuration.html"]:
        assert name in by_name, name
        assert len(re.sub(r"<[^>]+>", "", by_name[name]["caption"]).strip()) > 40, name
    figures = 0
    for path, entry in results.items():
        if entry["mime_type"] == "image/png":  # every figure is the PNG the run wrote
            data = base64.b64decode(entry["data_uri"].split("base64,", 1)[1])
            assert data == (report / path).read_bytes(), path
            # stamped: the demo run's figures say so, in the image and in the file
            assert "synthetic demo data" in Image.open(io.BytesIO(data)).text["Warning"], path
            figures += 1
    assert figures >= len(FIGURES) + 6  # the figures and every model's confusion matrices
    captions = " ".join(entry["caption"] for entry in results.values())
    for caption in ("Recall of every class", "Confusion matrices of", "One row per model"):
        assert caption in captions, caption
