"""Figures (matplotlib, Agg): each readable without the code."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from deepfake import N_CLASSES  # noqa: E402

CLASS_NAMES = [f"class {c}" for c in range(N_CLASSES)]


def confusion_figure(counts: np.ndarray, title: str) -> plt.Figure:
    """Counts and row-normalised confusion matrices side by side."""
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
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
    return fig


def save(fig: plt.Figure, path) -> None:
    """Write a figure atomically and free it."""
    from deepfake.io import write_atomic

    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)
