"""Figures (matplotlib, Agg): each readable without the code. Every figure is written
through :func:`save`, which stamps a run's figures "synthetic demo data" when the run is
on the demo set, so a figure copied out of such a run cannot pass for a real result."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from deepfake import N_CLASSES  # noqa: E402
from deepfake.io import write_atomic  # noqa: E402

CLASS_NAMES = [f"class {c}" for c in range(N_CLASSES)]
# The stamp on every figure of a run on the synthetic demo data (data_dir: demo).
DEMO_STAMP = "synthetic demo data"
DEMO_MEANING = "not a real result"
DEMO_RED = "#c00000"


def confusion_figure(counts: np.ndarray, title: str) -> plt.Figure:
    """Counts and row-normalised confusion matrices side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
    _confusion_panels(fig, axes, counts, title)
    return fig


def _confusion_panels(fig: plt.Figure, axes, counts: np.ndarray, title: str) -> None:
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)
    panels = [(counts, "counts", "d"), (normalised, "share of the true class", ".2f")]
    for ax, (matrix, label, fmt) in zip(axes, panels, strict=True):
        image = ax.imshow(matrix, cmap="Blues", vmin=0)
        fig.colorbar(image, ax=ax, shrink=0.8, label=label)
        ax.set(
            xticks=range(N_CLASSES),
            yticks=range(N_CLASSES),
            xlabel="predicted class",
            ylabel="true class",
            title=f"{title}: {label}",
        )
        threshold = matrix.max() / 2 if matrix.max() else 1
        for (i, j), value in np.ndenumerate(matrix):
            colour = "white" if value > threshold else "black"
            ax.text(j, i, format(value, fmt), ha="center", va="center", color=colour, fontsize=8)


def save(fig: plt.Figure, path, *, demo: bool = False) -> None:
    """Write a figure atomically and free it; ``demo`` (the run is on the synthetic demo
    data, its rule's ``params.demo``): stamped first (:func:`stamp_demo`)."""
    if demo:
        stamp_demo(fig)
    metadata = {"Warning": f"{DEMO_STAMP}: {DEMO_MEANING}"} if demo else {}
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, metadata=metadata))
    plt.close(fig)


def stamp_demo(fig: plt.Figure) -> None:
    """Mark ``fig`` as made from the synthetic demo data: a red line across its top (a
    suptitle, so the layout makes room for it) and a faint red diagonal watermark over
    the whole figure, which survives cropping the top off. The PNG that :func:`save`
    writes also carries the words in its ``Warning`` text chunk."""
    fig.suptitle(f"{DEMO_STAMP.upper()}: {DEMO_MEANING}", color=DEMO_RED, fontsize=11,
                 fontweight="bold")  # fmt: skip
    # the watermark along the figure's diagonal, as large as fits (a bold character is
    # about 0.65 em wide)
    width, height = fig.get_size_inches() * 72
    angle = float(np.clip(np.degrees(np.arctan2(height, width)), 12, 35))
    length = 0.65 * len(DEMO_STAMP)  # in em
    size = min(
        0.85 * width / (length * np.cos(np.radians(angle))),
        0.8 * height / (length * np.sin(np.radians(angle)) + 1),
        90,
    )
    fig.text(0.5, 0.5, DEMO_STAMP, color=DEMO_RED, alpha=0.2, fontsize=size,
             fontweight="bold", rotation=angle, ha="center", va="center",
             rotation_mode="anchor", zorder=10)  # fmt: skip


def learning_curves(histories: dict[str, pd.DataFrame], title: str) -> plt.Figure:
    """Accuracy and loss per epoch, one line per variant: validation (solid) where
    the run scored it each epoch (the report's protocol), and training (dashed)
    always. A clean-protocol run never reads validation during training, so it
    has training curves only (its validation accuracy is scored once, at the end).
    """
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for name, history in histories.items():
        epochs = history["epoch"]  # 1-based
        for split, style in (("val_", "-"), ("", "--")):
            if history[f"{split}accuracy"].notna().any():
                label = f"{name} ({'validation' if split else 'training'})"
                line = acc.plot(epochs, history[f"{split}accuracy"], style, marker=".",
                                label=label)[0]  # fmt: skip
                loss.plot(epochs, history[f"{split}loss"], style, marker=".", label=label,
                          color=line.get_color())  # fmt: skip
    acc.set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy")
    loss.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    for ax in (acc, loss):
        ax.grid(alpha=0.3)
        ax.legend(title="variant", fontsize="small")
    return fig


def best_confusions(panels: dict[str, np.ndarray]) -> plt.Figure:
    """Counts and row-normalised confusion matrices, one row of panels per model."""
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 4.6 * len(panels)), squeeze=False,
                             constrained_layout=True)  # fmt: skip
    for row, (title, counts) in zip(axes, panels.items(), strict=True):
        _confusion_panels(fig, row, counts, title)
    return fig


def class_histograms(hist: np.ndarray, labels: np.ndarray, bins: int) -> plt.Figure:
    """Mean HSV histogram of each class: one panel per channel."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    tops = (180, 256, 256)
    for channel, (ax, name, top) in enumerate(zip(axes, ("hue", "saturation", "value"), tops,
                                                  strict=True)):  # fmt: skip
        centres = (np.arange(bins) + 0.5) * top / bins
        for c in range(N_CLASSES):
            mean = hist[labels == c, channel * bins : (channel + 1) * bins].mean(axis=0)
            ax.plot(centres, mean, marker=".", label=CLASS_NAMES[c])
        ax.set(xlabel=f"{name} (OpenCV 8-bit scale, 0..{top - 1})", ylabel="mean share of pixels",
               title=f"{name}, {bins} bins")  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0].legend()
    return fig


def sample_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 8) -> plt.Figure:
    """The first ``per_class`` training images of each class, one row per class."""
    fig, axes = plt.subplots(N_CLASSES, per_class, figsize=(1.4 * per_class, 1.5 * N_CLASSES),
                             constrained_layout=True)  # fmt: skip
    for c, row in enumerate(axes):
        picks = np.flatnonzero(labels == c)[:per_class]
        for ax, index in zip(row, [*picks, *[None] * per_class], strict=False):
            ax.axis("off")
            if index is not None:
                ax.imshow(images[index])
        row[0].set_title(CLASS_NAMES[c], loc="left", fontsize=9)
    return fig


def class_recall(summary: pd.DataFrame) -> plt.Figure:
    """Recall of each class (columns) for each model (rows, best first), as a heat map."""
    names = list(summary["model"])
    recall = summary[[f"recall_{c}" for c in range(N_CLASSES)]].to_numpy(float)
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(names)), constrained_layout=True)
    image = ax.imshow(recall, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(image, ax=ax, label="recall")
    ax.set(xticks=range(N_CLASSES), xticklabels=CLASS_NAMES, yticks=range(len(names)),
           yticklabels=[f"{n} ({a:.3f})" for n, a in zip(names, summary["val_accuracy"],
                                                         strict=True)],
           title="recall per class on validation (model, accuracy)")  # fmt: skip
    for (i, j), value in np.ndenumerate(recall):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    return fig


def reliability_figure(panels: dict[str, tuple[dict, dict, float]]) -> plt.Figure:
    """Reliability diagrams, one panel per model: the accuracy of each bin of the top
    probability against its mean confidence, before (grey) and after (blue) the
    model's temperature. ``panels``: name -> (before, after, temperature), each a
    :func:`deepfake.calibration.reliability` table with its ECE under "ece"."""
    n = len(panels)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.4 * cols, 3.3 * rows), squeeze=False, constrained_layout=True
    )
    for ax, (name, (before, after, temperature)) in zip(axes.flat, panels.items(), strict=False):
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
        for table, colour, label in ((before, "0.6", "raw"), (after, "tab:blue", "calibrated")):
            shown = table["count"] > 0
            ax.plot(table["confidence"][shown], table["accuracy"][shown], "o-", ms=3,
                    color=colour, label=f"{label}: ECE {table['ece']:.3f}")  # fmt: skip
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
               title=f"{name} (T = {temperature:.2f})")  # fmt: skip
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig


def fingerprint_spectra(
    clean: dict[int, np.ndarray], jpeg: dict[int, np.ndarray], quality: int
) -> plt.Figure:
    """What each generator leaves: per class (columns), its mean high-pass residual
    spectrum (:func:`deepfake.descriptors.mean_residual_spectrum`, log10 power), that
    minus the mean of the other classes' spectra, and what a JPEG save of ``quality``
    changes in it (JPEG minus PNG)."""
    classes = sorted(clean)
    fig, axes = plt.subplots(3, len(classes), figsize=(2.6 * len(classes), 8.2),
                             squeeze=False, constrained_layout=True)  # fmt: skip
    # the zero frequency (no power in a residual) would set the colour scale: leave it out
    values = np.concatenate([m[m > -11].ravel() for m in clean.values()])
    low, high = np.percentile(values, [1, 99.5])
    # the shapes compared, not the overall power: each spectrum less its own mean
    shape = {c: m - m[m > -11].mean() for c, m in clean.items()}
    others = {c: np.mean([shape[o] for o in classes if o != c], axis=0) for c in classes}
    rows = [
        ("mean log10 power", clean, dict(cmap="magma", vmin=low, vmax=high)),
        ("shape minus the others'", {c: shape[c] - others[c] for c in classes}, None),
        (f"JPEG {quality} minus PNG", {c: jpeg[c] - clean[c] for c in classes}, None),
    ]
    for r, (what, panels, style) in enumerate(rows):
        if style is None:
            spread = max(np.percentile(np.abs(p[p == p]), 99.5) for p in panels.values())
            style = dict(cmap="RdBu_r", vmin=-spread, vmax=spread)
        for ax, c in zip(axes[r], classes, strict=True):
            image = ax.imshow(np.where(clean[c] > -11, panels[c], np.nan), **style)
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"{CLASS_NAMES[c]}: {what}" if c == classes[0] else CLASS_NAMES[c],
                         loc="left", fontsize=8)  # fmt: skip
        fig.colorbar(image, ax=axes[r].tolist(), shrink=0.8)
    return fig
