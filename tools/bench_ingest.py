"""Benchmark (not a test): ingest + resize + HSV histograms against decoding alone.

    python tools/bench_ingest.py [../shared/data/deepfake-train-sample] [--repeats 3]

Prints images/s of `cv2.imread` over the sample's PNGs, and of the workflow's
stage functions (`ingest_split`: CSV validation, decode, RGB conversion, size
check; then `hsv_histograms`) over the same files, best of the repeats. With
--threads N (the rule uses 2) it also times decoding alone on N threads.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the package

from deepfake.features import hsv_histograms  # noqa: E402
from deepfake.ingest import ingest_split  # noqa: E402

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

    def decode_threads():
        with ThreadPoolExecutor(args.threads) as pool:
            for _ in pool.map(lambda p: cv2.imread(p, cv2.IMREAD_UNCHANGED), paths):
                pass

    def stage():
        split = ingest_split(csv, folder, labelled=True, threads=args.threads)
        hsv_histograms(split.images, bins=16)

    decode_only()  # warm the page cache for both
    decode = best_rate(decode_only, n, args.repeats)
    full = best_rate(stage, n, args.repeats)
    print(f"images: {n}, ingest threads: {args.threads}, best of {args.repeats}")
    print(f"decode only (cv2.imread, 1 thread):   {decode:8.0f} images/s")
    print(f"ingest + resize + HSV histogram:      {full:8.0f} images/s")
    print(f"ratio: {full / decode:.1%} (target >= 75%)")
    if args.threads > 1:
        pooled = best_rate(decode_threads, n, args.repeats)
        print(f"decode only, {args.threads} threads:              {pooled:8.0f} images/s")
        print(f"ratio at equal threads: {full / pooled:.1%}")


if __name__ == "__main__":
    main()
