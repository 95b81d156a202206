"""A data folder the size of the competition's `knn` job, for timing it (not a test).

    python tools/make_split.py /path/to/labelled /tmp/dev --val-frac 0.1
    python experiments/knn_job_layout.py /tmp/dev /tmp/knnjob
    # then, in a copy of the workflow:
    snakemake --cores 2 results/knn/pixels/metrics.json \\
        --config data_dir=/tmp/knnjob 'knn={descriptors: [pixels]}'
    cat results/benchmarks/knn/pixels.tsv

The competition's pixel KNN searches 12,500 training images for 1,250
validation and 6,500 test queries. Only 12,500 labelled images exist here, so
from a dev split (11,250 / 1,250) this writes, as PNGs in the competition's
layout:

- train: the 11,250 dev-split training images plus mirror images of the first
  1,250 of them (natural images stay natural when mirrored), 12,500 rows;
- validation: the 1,250 dev-split validation images, as they are;
- test: 6,500 new views of the validation images: mirrored, shifted by 2 or
  3 pixels (edge rows repeated), and both, none of them in train.

The cost of the exact search depends on how well the lower bound prunes,
which depends on the images: these are real images, so it prunes as on the
competition's own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

TRAIN_SIZE, TEST_SIZE = 12_500, 6_500


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved by (dy, dx) pixels, its edge rows and columns repeated."""
    h, w = image.shape[:2]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return image[rows][:, cols]


VIEWS = (
    ("m", lambda im: im[:, ::-1]),
    ("s1", lambda im: shifted(im, 2, 2)),
    ("s2", lambda im: shifted(im, -3, 2)),
    ("ms1", lambda im: shifted(im[:, ::-1], 2, -2)),
    ("ms2", lambda im: shifted(im[:, ::-1], -2, 3)),
    ("s3", lambda im: shifted(im, 3, -3)),
)


def read(path: Path) -> np.ndarray:
    """The image at ``path``, BGR uint8, or an error naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def write_split(dest: Path, name: str, images: dict[str, np.ndarray], labels=None) -> None:
    """Write ``images`` (id -> image) as ``dest/name/<id>.png`` and ``dest/name.csv``."""
    folder = dest / name
    folder.mkdir(parents=True, exist_ok=False)
    for image_id, image in images.items():
        cv2.imwrite(str(folder / f"{image_id}.png"), image)
    frame = pd.DataFrame({"image_id": list(images)})
    if labels is not None:
        frame["label"] = labels
    frame.sort_values("image_id").to_csv(dest / f"{name}.csv", index=False)


def job_layout(dev: Path, dest: Path) -> dict[str, int]:
    """Write the job-sized layout from the dev split ``dev``; returns split sizes."""
    train = pd.read_csv(dev / "train.csv", dtype={"image_id": str})
    val = pd.read_csv(dev / "validation.csv", dtype={"image_id": str})
    extra = TRAIN_SIZE - len(train)
    if extra < 0 or extra > len(train):
        raise ValueError(f"{dev}: {len(train)} training images, expected 6,250..12,500")
    train_images = {i: read(dev / "train" / f"{i}.png") for i in train["image_id"]}
    mirrored = {f"{i}-m": train_images[i][:, ::-1] for i in train["image_id"][:extra]}
    labels = list(train["label"]) + list(train["label"][:extra])
    write_split(dest, "train", train_images | mirrored, labels)
    val_images = {i: read(dev / "validation" / f"{i}.png") for i in val["image_id"]}
    write_split(dest, "validation", val_images, list(val["label"]))
    views = {f"{i}-{tag}": view(image) for tag, view in VIEWS for i, image in val_images.items()}
    write_split(dest, "test", dict(list(views.items())[:TEST_SIZE]))
    return {"train": TRAIN_SIZE, "validation": len(val), "test": min(TEST_SIZE, len(views))}


def main() -> None:
    """Command line: see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="a dev split made by tools/make_split.py")
    parser.add_argument("dest", type=Path, help="new folder to create")
    args = parser.parse_args()
    sizes = job_layout(args.dev, args.dest)
    print(", ".join(f"{name}: {n}" for name, n in sizes.items()))


if __name__ == "__main__":
    main()
