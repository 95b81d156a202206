"""Queries/s of the exact raw-pixel KNN search: scikit-learn, OpenCV, the workflow's.

    python benchmarks/knn.py RESULTS [--queries 300] [--sklearn-queries 20] [--k 11]
    python benchmarks/knn.py --synthetic 12500 --queries 7750 --sklearn-queries 0

RESULTS is a workflow run's results folder (its ``arrays/{train,validation,test}.npz``,
``deepfake.layout.Layout``). The queries are the first validation then test images, all
searched against the whole training split, L1 distance on the 30,000 uint8 values:

- ``scikit-learn``: ``NearestNeighbors(metric="manhattan", algorithm="brute")`` (on
  ``--sklearn-queries`` only: it is slow);
- ``cv2.batchDistance``: the uint8 L1 kernel, one call over the whole training set;
- ``pixel_neighbours``: the same kernel blocked for the cache;
- ``pruned_pixel_neighbours``: the workflow's, blocked and pruned by the 2x2-block
  lower bound.

The neighbours of all are asserted equal. The unpruned searches cost the same on any
pixels: ``--synthetic N`` times them on random images (N training images, no data
needed; the pruned search is left out there, as random images do not prune). Prints
queries/s and the time the ``knn`` job's searches would take for ``--job-queries``
queries (validation + test; the competition's: 7,750).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from harness import header, parser, per_second, rounds, rounds_note, spread, table, timer


def unblocked(train: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """The unblocked search: one ``cv2.batchDistance`` call over the whole training set;
    the neighbours' indices (Q, k)."""
    import cv2

    _, index = cv2.batchDistance(query, train, cv2.CV_32S, normType=cv2.NORM_L1, K=k)
    return index.astype(np.int64)


def sklearn_search(train: np.ndarray, query: np.ndarray, k: int, threads: int) -> np.ndarray:
    """scikit-learn's brute-force Manhattan search; the neighbours' indices (Q, k)."""
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=k, metric="manhattan", algorithm="brute", n_jobs=threads)
    return search.fit(train.astype(np.float32)).kneighbors(query, return_distance=False)


def load(results: Path | None, synthetic: int | None, queries: int) -> tuple:
    """Training rows and query rows, flattened uint8 (N, 30000): from a run's arrays, or
    random ones (``synthetic`` training rows)."""
    if synthetic:
        rng = np.random.default_rng(0)
        train = rng.integers(0, 256, (synthetic, 30_000), dtype=np.uint8)
        return train, rng.integers(0, 256, (queries, 30_000), dtype=np.uint8)
    from deepfake.io import load_arrays
    from deepfake.layout import Layout

    run = Layout(str(results))
    images = {s: load_arrays(run.arrays(s))["images"] for s in ("train", "validation", "test")}
    query = np.concatenate([images["validation"], images["test"]])[:queries]
    return images["train"].reshape(len(images["train"]), -1), query.reshape(len(query), -1)


def main() -> None:
    """Command line: see the module's docstring."""
    p = parser(__doc__, rounds=1)
    p.add_argument("results", type=Path, nargs="?", help="a run's results folder")
    p.add_argument("--synthetic", type=int, help="random images, this many to search")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--sklearn-queries", type=int, default=20, help="0: leave scikit-learn out")
    p.add_argument("--k", type=int, default=11)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--job-queries", type=int, default=7750, help="validation + test of the job")
    args = p.parse_args()
    if not args.synthetic and args.results is None:
        p.error("give RESULTS or --synthetic N")
    import cv2

    from deepfake.knn_search import pixel_neighbours, pruned_pixel_neighbours

    cv2.setNumThreads(args.threads)
    train, query = load(args.results, args.synthetic, args.queries)
    header(("numpy", "cv2", "sklearn"), extra=f"{args.threads} threads")
    print(f"{len(train)} training images, {len(query)} queries, k={args.k}, "
          f"{rounds_note(args.rounds)}")  # fmt: skip
    found = {}

    def keep(name, search):
        def task():
            found[name] = search()

        return timer(task)

    few = query[: args.sklearn_queries]
    searches = {
        "cv2.batchDistance": keep("cv2", lambda: unblocked(train, query, args.k)),
        "pixel_neighbours": keep("blocked", lambda: pixel_neighbours(train, query, args.k)[1]),
    }
    if not args.synthetic:
        searches["pruned_pixel_neighbours"] = keep(
            "pruned", lambda: pruned_pixel_neighbours(train, query, args.k, (100, 100, 3))[1]
        )
    if len(few):
        reference = keep("sklearn", lambda: sklearn_search(train, few, args.k, args.threads))
        searches = {"scikit-learn": reference, **searches}
    seconds = rounds(searches, args.rounds)
    for name, index in found.items():
        expected = found["cv2"][: len(few)] if name == "sklearn" else found["cv2"]
        np.testing.assert_array_equal(index, expected, err_msg=name)
    rows = []
    for name, times in seconds.items():
        n = len(few) if name == "scikit-learn" else len(query)
        rate = per_second(n, times)
        job = args.job_queries / rate.median
        rows.append((name, n, spread(rate, 1), f"{job:,.0f} s"))
    print(table(("search", "queries", "queries/s", f"{args.job_queries} queries"), rows))
    print("same neighbours: yes")


if __name__ == "__main__":
    main()
