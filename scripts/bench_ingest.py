"""Benchmark (not a test): ingest + resize + HSV histograms against decoding alone.

    python scripts/bench_ingest.py [../shared/data/deepfake-train-sample] [--repeats 3]

Prints images/s of `cv2.imread` over the sample's PNGs, and of the workflow's
stage functions (`ingest_split`: CSV validation, decode, RGB conversion, size
check; then `hsv_histograms`) over the same files, best of the repeats.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import pandas as pd

from deepfake.features import hsv_histograms
from deepfake.ingest import ingest_split

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "deepfake-train-sample"


def best_rate(task, n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        task()
        times.append(time.perf_counter() - start)
    return n / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="decoding threads of ingest")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    csv, folder = args.data / "train.csv", args.data / "train"
    paths = [str(folder / f"{i}.png") for i in pd.read_csv(csv)["image_id"]]
    n = len(paths)

    def decode_only():
        for path in paths:
            cv2.imread(path, cv2.IMREAD_UNCHANGED)

    def stage():
        split = ingest_split(csv, folder, labelled=True, threads=args.threads)
        hsv_histograms(split.images, bins=16)

    decode_only()  # warm the page cache for both
    decode = best_rate(decode_only, n, args.repeats)
    full = best_rate(stage, n, args.repeats)
    print(f"images: {n}, threads: {args.threads}, best of {args.repeats}")
    print(f"decode only (cv2.imread):        {decode:8.0f} images/s")
    print(f"ingest + resize + HSV histogram: {full:8.0f} images/s")
    print(f"ratio: {full / decode:.1%} (target >= 75%)")


if __name__ == "__main__":
    main()
