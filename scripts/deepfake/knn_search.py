"""KNN baselines (Manhattan distance): k and voting chosen on validation, or by
cross-validation on the training split for the descriptor combination.

Neighbours are searched once, for the largest k of the grid; each smaller k
votes among the first k of them. The votes are those of scikit-learn's
``KNeighborsClassifier(metric="manhattan")`` (uniform weights, ties to the
lowest class; ``weights="uniform"`` or ``"distance"``), which the tests check
prediction for prediction, at the cost of one neighbour search instead of one
per k.

Every search is exact and orders neighbours by (distance, training row), so
equal distances go to the lower row: the same neighbours, votes and
probabilities whatever the number of threads (each query block is searched on
its own; threads only share out the blocks).

Raw pixels are searched with OpenCV's uint8 L1 kernel (``cv2.batchDistance``,
exact integer distances, SIMD sum-of-absolute-differences), blocked for the
cache and pruned by an exact lower bound (:func:`pruned_pixel_neighbours`): on
100x100x3 images the plain kernel ran
29x faster here than scikit-learn's float Manhattan search, which would take
most of an hour on the full competition split.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sklearn.model_selection import StratifiedKFold

from deepfake import IMAGE_SIZE, N_CLASSES

WEIGHTINGS = ("uniform", "distance")


def _l1_block(train_x: np.ndarray, queries: np.ndarray, train_chunk: int) -> np.ndarray:
    """Exact L1 distances (queries x training rows, int32) of uint8 rows, blocked for the
    cache: the queries (a few MB, in L3) meet ``train_chunk`` training rows at a time
    (in L2), so each training row is read from memory once per call, not once per query.
    """
    n = len(train_x)
    block = np.empty((len(queries), n), dtype=np.int32)
    for first in range(0, n, train_chunk):
        size = min(train_chunk, n - first)
        d, i = cv2.batchDistance(
            queries, train_x[first : first + size], cv2.CV_32S, normType=cv2.NORM_L1, K=size
        )
        np.put_along_axis(block[:, first : first + size], i, d, axis=1)
    return block


def _smallest(dist: np.ndarray, index: np.ndarray, n: int, k: int) -> tuple[np.ndarray, ...]:
    """The k smallest of each row by (distance, training row): one int64 key per pair."""
    key = dist.astype(np.int64) * n + index
    top = np.partition(key, k - 1, axis=-1)[..., :k] if k < key.shape[-1] else key
    top = np.sort(top, axis=-1)
    return top // n, top % n


def pixel_neighbours(
    train_x: np.ndarray,
    query_x: np.ndarray,
    k: int,
    train_chunk: int = 16,
    query_block: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact L1 neighbours of uint8 rows (no pruning); ties to the lower training row."""
    n = len(train_x)
    train_x, query_x = np.ascontiguousarray(train_x), np.ascontiguousarray(query_x)
    dist = np.empty((len(query_x), k), dtype=np.int64)
    index = np.empty((len(query_x), k), dtype=np.int64)
    rows = np.arange(n, dtype=np.int64)
    for start in range(0, len(query_x), query_block):
        block = _l1_block(train_x, query_x[start : start + query_block], train_chunk)
        d, i = _smallest(block, rows, n, k)
        dist[start : start + len(block)], index[start : start + len(block)] = d, i
    return dist.astype(np.float64), index


def coarse_images(rows: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """2x2 block means of image rows, rounded to uint8 (OpenCV's area resize: one
    SIMD pass, 30x faster than numpy here). Each mean m of a block sum S obeys
    |S - 4 m| <= 2, which :func:`pruned_pixel_neighbours` relies on (tested)."""
    h, w, c = shape
    tall = np.ascontiguousarray(rows).reshape(len(rows) * h, w, c)
    small = cv2.resize(tall, (w // 2, len(rows) * h // 2), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small.reshape(len(rows), -1))


def pruned_pixel_neighbours(
    train_x: np.ndarray,
    query_x: np.ndarray,
    k: int,
    shape: tuple[int, int, int],
    train_chunk: int = 16,
    query_block: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact L1 neighbours of uint8 image rows (``shape`` = H, W, C, both even), pruned by
    a lower bound; the same neighbours as :func:`pixel_neighbours`.

    For the 2x2 block sums S (4 pixels of one channel), |S_a - S_b| <= the block's
    L1 distance, and with m the rounded mean (|S - 4 m| <= 2):
    |S_a - S_b| >= 4 |m_a - m_b| - 4. So ``4 * L1(m_a, m_b) - 4 * blocks``
    bounds the full distance from below, at a
    quarter of its cost (same uint8 kernel). Each query's k best by the bound give
    an upper limit tau on its k-th distance; only rows whose bound is <= tau can
    be neighbours, and only those (about 2% of 11,250 on the dev split) are
    measured in full.
    """
    if shape[0] % 2 or shape[1] % 2:
        return pixel_neighbours(train_x, query_x, k, train_chunk, query_block)
    n = len(train_x)
    train_x, query_x = np.ascontiguousarray(train_x), np.ascontiguousarray(query_x)
    coarse_train, coarse_query = coarse_images(train_x, shape), coarse_images(query_x, shape)
    slack = 4 * coarse_train.shape[1]
    dist = np.empty((len(query_x), k), dtype=np.int64)
    index = np.empty((len(query_x), k), dtype=np.int64)
    for start in range(0, len(query_x), query_block):
        bound = _l1_block(coarse_train, coarse_query[start : start + query_block], train_chunk)
        bound = bound.astype(np.int64) * 4 - slack
        first = np.argpartition(bound, k - 1, axis=1)[:, :k] if k < n else None
        for j, row in enumerate(bound):
            query = query_x[start + j : start + j + 1]
            candidates = np.arange(n) if first is None else first[j]
            d, _ = cv2.batchDistance(
                query, train_x[candidates], cv2.CV_32S, normType=cv2.NORM_L1, K=k
            )
            survivors = np.flatnonzero(row <= d.max())
            d, i = cv2.batchDistance(
                query, train_x[survivors], cv2.CV_32S, normType=cv2.NORM_L1, K=len(survivors)
            )
            d, i = _smallest(d[0], survivors[i[0]], n, k)
            dist[start + j], index[start + j] = d, i
    return dist.astype(np.float64), index


def smallest(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest of each row of a float distance matrix, ordered by (distance,
    column): distances and column indices, (rows, k)."""
    n = dist.shape[1]
    if k >= n:
        index = np.argsort(dist, axis=1, kind="stable")
        return np.take_along_axis(dist, index, axis=1), index
    index = np.argpartition(dist, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(dist, index, axis=1)
    order = np.lexsort((index, values), axis=1)
    index = np.take_along_axis(index, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    # Rows whose k-th distance is shared by a column left outside: argpartition chose
    # among the tied columns; take the lowest ones instead.
    tied = np.flatnonzero((dist <= values[:, -1:]).sum(axis=1) > k)
    for row in tied:
        index[row] = np.argsort(dist[row], kind="stable")[:k]
        values[row] = dist[row, index[row]]
    return values, index


def float_neighbours(
    train_x: np.ndarray,
    query_x: np.ndarray,
    k: int,
    threads: int = 1,
    query_block: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact L1 neighbours of float rows (distances in float64, SciPy's ``cdist``),
    ordered by (distance, training row); the same result for any ``threads``."""
    train_x = np.ascontiguousarray(train_x, dtype=np.float64)
    query_x = np.ascontiguousarray(query_x, dtype=np.float64)
    dist = np.empty((len(query_x), k), dtype=np.float64)
    index = np.empty((len(query_x), k), dtype=np.int64)

    def search(start: int) -> None:
        block = cdist(query_x[start : start + query_block], train_x, "cityblock")
        stop = start + len(block)
        dist[start:stop], index[start:stop] = smallest(block, k)

    starts = range(0, len(query_x), query_block)
    if threads > 1:  # cdist releases the GIL
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(search, starts))
    else:
        for start in starts:
            search(start)
    return dist, index


def neighbours(
    train_x: np.ndarray, query_x: np.ndarray, k: int, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """L1 distances (float64) and indices of the ``k`` training rows nearest to each
    query row, closest first (ties: the lower training row first)."""
    if train_x.dtype == np.uint8 and query_x.dtype == np.uint8:
        if train_x.shape[1] == IMAGE_SIZE * IMAGE_SIZE * 3:  # pixel_descriptor rows
            return pruned_pixel_neighbours(train_x, query_x, k, (IMAGE_SIZE, IMAGE_SIZE, 3))
        return pixel_neighbours(train_x, query_x, k)
    return float_neighbours(train_x, query_x, k, threads)


def nearest(train_x: np.ndarray, query_x: np.ndarray, k: int, threads: int = 1) -> np.ndarray:
    """Indices of the ``k`` training rows nearest to each query row (L1), closest first."""
    return neighbours(train_x, query_x, k, threads)[1]


def vote(
    train_y: np.ndarray, index: np.ndarray, dist: np.ndarray | None, k: int, weights: str
) -> np.ndarray:
    """Class probabilities from the first ``k`` neighbours, as KNeighborsClassifier votes:
    equal votes (``uniform``) or votes 1/distance (``distance``; where some of the
    k neighbours lie at distance 0, only those vote)."""
    if weights not in WEIGHTINGS:
        raise ValueError(f"unknown weights {weights!r}: expected one of {WEIGHTINGS}")
    onehot = np.eye(N_CLASSES)[train_y[index[:, :k]]]  # (N, k, C)
    if weights == "uniform":
        return (onehot.sum(axis=1) / k).astype(np.float32)
    d = dist[:, :k]
    zero = d == 0
    with np.errstate(divide="ignore"):
        w = np.where(zero.any(axis=1, keepdims=True), zero.astype(np.float64), 1.0 / d)
    proba = np.einsum("nk,nkc->nc", w, onehot)
    return (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)


def neighbour_votes(
    train_y: np.ndarray,
    index: np.ndarray,
    ks: Sequence[int],
    dist: np.ndarray | None = None,
    weights: Sequence[str] = ("uniform",),
) -> dict[tuple[int, str], np.ndarray]:
    """Class probabilities for each (k, weights) from one neighbour list."""
    return {(k, w): vote(train_y, index, dist, k, w) for k in ks for w in weights}


def _check_ks(ks: Sequence[int], n_train: int) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if ks[0] < 1 or ks[-1] > n_train:
        raise ValueError(f"k must lie in 1..{n_train} (the training size), got {ks}")
    return ks


def knn_grid(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    ks: Sequence[int],
    weights: Sequence[str] = ("uniform",),
    threads: int = 1,
) -> tuple[pd.DataFrame, dict[tuple[int, str], np.ndarray]]:
    """Validation accuracy for each (k, weights), and each one's validation probabilities."""
    ks = _check_ks(ks, len(train_x))
    dist, index = neighbours(train_x, val_x, ks[-1], threads)
    proba = neighbour_votes(train_y, index, ks, dist, weights)
    rows = [
        {"k": k, "weights": w, "val_accuracy": float(np.mean(p.argmax(1) == val_y))}
        for (k, w), p in proba.items()
    ]
    return pd.DataFrame(rows), proba


def best_k(grid: pd.DataFrame, score: str = "val_accuracy") -> tuple[int, str]:
    """The (k, weights) with the highest ``score``; on a tie the smallest k, then the
    first weighting in grid order."""
    best = grid.loc[grid[score] == grid[score].max()]
    best = best.sort_values("k", kind="stable").iloc[0]
    return int(best["k"]), str(best.get("weights", "uniform"))


def knn_proba(
    train_x: np.ndarray,
    train_y: np.ndarray,
    x: np.ndarray,
    k: int,
    weights: str = "uniform",
    threads: int = 1,
) -> np.ndarray:
    """Class probabilities of the k-nearest-neighbour classifier for the rows of ``x``."""
    dist, index = neighbours(train_x, x, k, threads)
    return vote(train_y, index, dist, k, weights)


# --- Combination of descriptor groups -------------------------------------------------


def group_scales(groups: Sequence[np.ndarray], n_pairs: int = 4000, seed: int = 0) -> np.ndarray:
    """Each group's mean L1 distance between random pairs of (training) rows."""
    rng = np.random.default_rng(seed)
    n = len(groups[0])
    a, b = rng.integers(0, n, n_pairs), rng.integers(0, n, n_pairs)
    scales = np.array([np.abs(g[a] - g[b]).sum(axis=1).mean() for g in groups])
    if (scales <= 0).any():
        raise ValueError(f"a descriptor group is constant on the training set (scales {scales})")
    return scales


def combine(
    groups: Sequence[np.ndarray], scales: Sequence[float], weights: Sequence[float]
) -> np.ndarray:
    """Standardised groups side by side: group ``g`` scaled by ``weights[g] / scales[g]``,
    so the L1 distance is the weighted sum of the groups' standardised distances."""
    return np.concatenate(
        [
            g.astype(np.float32) * np.float32(w / s)
            for g, s, w in zip(groups, scales, weights, strict=True)
        ],
        axis=1,
    )


def weight_grid(n_groups: int, grid: Sequence[float]) -> list[tuple[float, ...]]:
    """Candidate group weights: the first group 1, each other one from ``grid``."""
    return [(1.0, *rest) for rest in itertools.product(sorted(grid), repeat=n_groups - 1)]


def _distances(a: np.ndarray, b: np.ndarray, threads: int, block: int = 256) -> np.ndarray:
    """The full L1 distance matrix (float64) of the rows of ``a`` and ``b``, blocks of
    ``a`` shared out over ``threads``; each entry is computed alone (thread-independent)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty((len(a), len(b)), dtype=np.float64)

    def fill(start: int) -> None:
        out[start : start + block] = cdist(a[start : start + block], b, "cityblock")

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(fill, range(0, len(a), block)))
    return out


def cross_validate_combination(
    groups: Sequence[np.ndarray],
    y: np.ndarray,
    ks: Sequence[int],
    weights: Sequence[str],
    group_weights: Sequence[float],
    folds: int,
    seed: int,
    threads: int = 1,
) -> pd.DataFrame:
    """Cross-validated accuracy of every (group weights, k, voting) on the training split.

    Only the training rows and labels are used: each fold is classified by the
    other folds. Per fold, each group's distance matrix is computed once and the
    weight candidates are sums of those matrices.
    """
    ks = _check_ks(ks, len(y) - (len(y) + folds - 1) // folds)
    scales = group_scales(groups, seed=seed)
    candidates = weight_grid(len(groups), group_weights)
    correct = np.zeros((len(candidates), len(ks), len(weights)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit, held in splitter.split(groups[0], y):
        dists = [
            _distances(g[held], g[fit], threads).astype(np.float32) / np.float32(s)
            for g, s in zip(groups, scales, strict=True)
        ]
        for c, candidate in enumerate(candidates):
            total = sum(w * d for w, d in zip(candidate, dists, strict=True) if w)
            dist, index = smallest(total, ks[-1])
            dist = dist.astype(np.float64)
            for i, k in enumerate(ks):
                for j, w in enumerate(weights):
                    predicted = vote(y[fit], index, dist, k, w).argmax(1)
                    correct[c, i, j] += np.sum(predicted == y[held])
    rows = [
        {
            "group_weights": list(candidate),
            "k": k,
            "weights": w,
            "cv_accuracy": correct[c, i, j] / len(y),
        }
        for c, candidate in enumerate(candidates)
        for i, k in enumerate(ks)
        for j, w in enumerate(weights)
    ]
    return pd.DataFrame(rows)


def choose_combination(cv: pd.DataFrame) -> dict:
    """The best row of :func:`cross_validate_combination`: highest CV accuracy, then the
    smallest k, then grid order (uniform before distance, smaller weights first)."""
    best = cv.loc[cv["cv_accuracy"] == cv["cv_accuracy"].max()]
    row = best.sort_values("k", kind="stable").iloc[0]
    return {
        "group_weights": [float(w) for w in row["group_weights"]],
        "k": int(row["k"]),
        "weights": str(row["weights"]),
        "cv_accuracy": float(row["cv_accuracy"]),
    }
