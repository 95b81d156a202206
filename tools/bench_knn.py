"""Benchmark (not a test): exact raw-pixel KNN search, scikit-learn / OpenCV / new.

    python tools/bench_knn.py DATA_DIR [--queries 300] [--sklearn-queries 20] [--k 11]
    python tools/bench_knn.py --synthetic 12500 --queries 7750 --sklearn-queries 0

DATA_DIR holds the ingested `train.npz`, `validation.npz` and `test.npz`
(`results/arrays/` of a run). Queries are the first validation then test
images. Times, on the same queries against the whole training set:
scikit-learn's brute Manhattan search (on fewer queries: it is slow), the
unblocked search (one `cv2.batchDistance` call), `pixel_neighbours` (the same
kernel blocked for the cache) and `pruned_pixel_neighbours` (the workflow's:
blocked, pruned by the 2x2-block lower bound); the neighbours of all are
asserted equal. The unpruned searches cost the same on any pixels: --synthetic
N times them on random images, N training images (no data needed; the pruned
search is skipped there, random images do not prune).
Prints queries/s and the extrapolated time of the `knn` job's searches
(validation + test queries) for the given numbers of queries.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from deepfake.knn_search import pixel_neighbours, pruned_pixel_neighbours  # noqa: E402


def unblocked(train: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """The unblocked search: one cv2.batchDistance call over the whole training set."""
    _, index = cv2.batchDistance(query, train, cv2.CV_32S, normType=cv2.NORM_L1, K=k)
    return index.astype(np.int64)


def sklearn_search(train: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=k, metric="manhattan", algorithm="brute", n_jobs=2)
    return search.fit(train.astype(np.float32)).kneighbors(query, return_distance=False)


def timed(task):
    start = time.perf_counter()
    result = task()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?")
    parser.add_argument("--synthetic", type=int, help="random images, this many to train on")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--sklearn-queries", type=int, default=20)
    parser.add_argument("--k", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--job-queries", type=int, default=7750, help="val + test of the job")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    if args.synthetic:
        rng = np.random.default_rng(0)
        train = rng.integers(0, 256, (args.synthetic, 30_000), dtype=np.uint8)
        query = rng.integers(0, 256, (args.queries, 30_000), dtype=np.uint8)
    else:
        sets = ("train", "validation", "test")
        arrays = {s: np.load(args.data / f"{s}.npz")["images"] for s in sets}
        train = arrays["train"].reshape(len(arrays["train"]), -1)
        query = np.concatenate([arrays["validation"], arrays["test"]])[: args.queries]
        query = query.reshape(len(query), -1)
    print(f"{len(train)} training images, {len(query)} queries, k={args.k}, {args.threads} threads")
    old, t_old = timed(lambda: unblocked(train, query, args.k))
    (_, new), t_new = timed(lambda: pixel_neighbours(train, query, args.k))
    np.testing.assert_array_equal(new, old)
    timings = [("cv2.batchDistance", t_old, len(query)), ("pixel_neighbours", t_new, len(query))]
    if not args.synthetic:
        (_, pruned), t_pruned = timed(
            lambda: pruned_pixel_neighbours(train, query, args.k, (100, 100, 3))
        )
        np.testing.assert_array_equal(pruned, old)
        timings.append(("pruned_pixel_nbrs", t_pruned, len(query)))
    if args.sklearn_queries:
        few = query[: args.sklearn_queries]
        ref, t_ref = timed(lambda: sklearn_search(train, few, args.k))
        np.testing.assert_array_equal(new[: len(few)], ref)
        timings.insert(0, ("scikit-learn", t_ref, len(few)))
    for name, seconds, n in timings:
        job = seconds / n * args.job_queries
        print(f"{name:18s} {n / seconds:8.1f} queries/s   {args.job_queries} queries: {job:7.0f} s")
    print("same neighbours: yes")


if __name__ == "__main__":
    main()
