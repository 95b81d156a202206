"""A reader who skims cannot take the demo for a real result: every figure of a run on
the synthetic demo data is stamped "synthetic demo data" (nothing on a real run), the
landing page opens with the warning as a coloured box, and every column of the summary
is explained there, from one table of explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, load_config, snakemake
from PIL import Image

from deepfake import plots
from deepfake.datafolder import data_record
from deepfake.evaluate import SUMMARY_COLUMNS
from deepfake.report import (
    DEMO_WARNING,
    REFIT_WARNING,
    SUMMARY_EXPLAINED,
    landing_page,
    model_card,
)

COUNTS = np.arange(25).reshape(5, 5) + 10 * np.eye(5, dtype=int)


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=int)


def red_share(image: np.ndarray) -> float:
    """The share of pixels in the stamp's red (#c00000, give or take antialiasing)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return float(np.mean((r > 150) & (g < 80) & (b < 80)))


def test_a_demo_figure_is_stamped_and_a_real_one_is_not(tmp_path):
    demo, real = tmp_path / "demo.png", tmp_path / "real.png"
    plots.save(plots.confusion_figure(COUNTS, "knn/hsv16"), demo, demo=True)
    plots.save(plots.confusion_figure(COUNTS, "knn/hsv16"), real, demo=False)
    stamped, plain = pixels(demo), pixels(real)
    assert stamped.shape == plain.shape  # the same figure, the same size
    assert np.mean(np.any(stamped != plain, axis=-1)) > 0.05  # visibly different
    top = slice(0, stamped.shape[0] // 15)  # the red line across the top
    assert red_share(stamped[top]) > 0.005 and red_share(plain[top]) == 0
    assert "synthetic demo data" in Image.open(demo).text["Warning"]  # in the file too
    assert "Warning" not in Image.open(real).text


def test_the_stamp_is_text_of_the_figure():
    fig = plots.confusion_figure(COUNTS, "knn/hsv16")
    plots.stamp_demo(fig)
    texts = [t.get_text() for t in fig.texts]  # the suptitle is one of them
    assert sum("synthetic demo data" in t.lower() for t in texts) == 2  # top line, watermark
    plots.plt.close(fig)


@pytest.mark.parametrize("size", [(7.5, 1.5), (11, 4.8), (13, 30)])
def test_the_watermark_fits_any_figure(tmp_path, size):
    fig = plots.plt.figure(figsize=size)
    plots.stamp_demo(fig)
    fig.canvas.draw()
    box = fig.texts[-1].get_window_extent()
    width, height = fig.canvas.get_width_height()
    assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height
    plots.plt.close(fig)


def test_every_summary_column_is_explained_once():
    assert list(SUMMARY_EXPLAINED) == SUMMARY_COLUMNS
    assert all(len(text) > 20 for text in SUMMARY_EXPLAINED.values())


def rows(protocols=("clean", "report")) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": f"knn/m{i}", "family": "knn", "val_accuracy": 0.9 - i / 10,
             "macro_f1": 0.8, "weakest_class": 4, "protocol": protocol, "train_seconds": 1.0,
             "train_pflop": 0.0, "trained_on": "demo (synthetic)"}
            for i, protocol in enumerate(protocols)
        ]
    )  # fmt: skip


def metrics(data: dict) -> dict:
    return {"knn/m0": {"data": data, "n_train": 100, "n_val": 50}}


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_landing_page_explains_every_column():
    run = {"date": "d", "n_test": 5}
    page = flat(landing_page(rows(), metrics(data_record("demo")), run))
    for column, text in SUMMARY_EXPLAINED.items():
        assert flat(text) in page, column
    assert "optimistic" in page and "clean rows with clean rows" in page
    assert page.index("*report*") < page.index('<table class="summary">')  # said first
    with pytest.raises(KeyError, match="unexplained"):
        landing_page(rows().assign(unexplained=1), metrics(data_record("demo")), run)


def test_the_demo_warning_is_a_coloured_box_and_a_real_run_has_none(tmp_path):
    run = {"date": "d", "n_test": 5}
    demo = landing_page(rows(), metrics(data_record("demo")), run)
    box = next(line for line in demo.splitlines() if 'class="data-warning"' in line)
    assert "background:" in box and "border" in box
    assert "synthetic demo data" in box and DEMO_WARNING in flat(box)
    (tmp_path / "train").mkdir()
    real = landing_page(rows(), metrics(data_record(str(tmp_path))), run)
    assert "data-warning" not in real and "synthetic demo data" not in real
    refit = landing_page(rows(), metrics(data_record("demo", refit=True)), run)
    assert REFIT_WARNING in flat(refit) and refit.count('class="data-warning"') == 2


def test_a_cards_warning_is_the_same_box():
    row = rows().iloc[0].to_dict() | {f"recall_{c}": 0.5 for c in range(5)}
    record = {"data": data_record("demo"), "n_train": 100, "n_val": 50, "protocol": "clean",
              "family": "knn", "inputs": "hsv16", "train_seconds": 1.0,
              "versions": {"python": "3.11"}}  # fmt: skip
    card = model_card(row, record)
    assert 'class="data-warning"' in card and "synthetic demo data" in card


@pytest.mark.slow
def test_a_real_data_run_stamps_no_figure(tmp_path, sample):
    from deepfake.make_split import stratified_layout

    data = tmp_path / "data"
    stratified_layout(sample, data, val_frac=0.5, per_class=10, seed=0)
    workdir = copy_workflow(tmp_path / "wf", load_config("tiny") | {"data_dir": str(data)})
    snakemake(workdir)
    figures = sorted((workdir / "results").glob("**/*.png"))
    assert len(figures) >= 6  # every confusion matrix and figure of the run
    for path in figures:
        assert "Warning" not in Image.open(path).text, path
        assert red_share(pixels(path)[:30]) == 0, path  # no red line across the top
