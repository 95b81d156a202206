"""Benchmark (not a test): images/s of each KNN descriptor against PNG decoding.

    python tools/bench_features.py [DATA_DIR] [--images 2000] [--repeats 3]

DATA_DIR is a labelled data folder (train/ and train.csv; default the shared
5,000-image sample). Decodes the first --images PNGs with `cv2.imread` (one
thread), then times every descriptor on the decoded uint8 array (one thread),
best of the repeats.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from deepfake.features import DESCRIPTORS, descriptor  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "deepfake-train-sample"


def best_seconds(task, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        task()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ids = pd.read_csv(args.data / "train.csv")["image_id"][: args.images]
    paths = [str(args.data / "train" / f"{i}.png") for i in ids]
    decode = best_seconds(lambda: [cv2.imread(p) for p in paths], args.repeats)
    images = np.stack([cv2.imread(p)[:, :, ::-1] for p in paths])
    n = len(images)
    print(f"{n} images; PNG decoding (cv2.imread): {n / decode:8.0f} images/s")
    for name in ["hsv16", *DESCRIPTORS]:
        seconds = best_seconds(lambda name=name: descriptor(name, images), args.repeats)
        dim = descriptor(name, images[:1]).shape[1]
        print(
            f"{name:9s} D={dim:4d}: {n / seconds:8.0f} images/s ({decode / seconds:.2f}x decoding)"
        )


if __name__ == "__main__":
    main()
