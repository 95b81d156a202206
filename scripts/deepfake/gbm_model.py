"""The gradient-boosted model: scikit-learn's histogram gradient boosting on the hand-made
descriptors side by side, as a model folder.

scikit-learn fits the trees; the model keeps them as plain arrays (:class:`Forest`) and
always predicts through its own numpy walk of them, straight after the fit as after a
load, so the gbm rule's probabilities and predict's are the same code.
``model.json`` names the descriptors and the scikit-learn version that fitted it;
``trees.npz`` holds the trees' arrays (numbers only: reading them runs no code). The gbm
rule computes validation and test probabilities through
:meth:`GbmModel.proba_from_descriptors`, predict through :meth:`GbmModel.predict_proba`.

Nothing is chosen on validation: the number of boosting rounds, the rate and the
tree size are settings (``gbm.*``), and with no early stopping nor subsampling the
fit is deterministic (and the same for any thread count: tested).
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from deepfake import N_CLASSES, layout
from deepfake.descriptor_model import DescriptorModel, Fitted, Job, LoadedSet
from deepfake.families import read_card, save_card
from deepfake.io import atomic_path

ROWS_TIMES_TREES = 1 << 20  # rows walked at once times trees: bounds predict's memory
ZIP_MAGIC = b"PK\x03\x04"  # how every .npz file begins


def _refused(path: Path, what: str) -> ValueError:
    return ValueError(
        f"{path}: {what}; a gbm model folder holds its trees as a .npz of plain numeric "
        f"arrays ({layout.TREES}) and loading it runs no code. Retrain the model with this "
        "version of the workflow (a shipped model: `snakemake ship_model` with its recipe)"
    )


@dataclass(eq=False)
class Forest:
    """Boosted regression trees as plain arrays, every tree's nodes one after another.

    Tree ``t`` starts at node ``roots[t]`` and adds its leaf's value to the raw score of
    class ``t % n_classes`` (the trees of one boosting round, one per class, side by
    side). A node sends a row left when its feature is at most ``threshold``, a missing
    (NaN) feature where ``missing_left`` says; a leaf's ``left`` and ``right`` are
    itself. The probabilities are the softmax of ``baseline`` plus the leaf values,
    summed round by round as scikit-learn sums them.
    """

    baseline: np.ndarray  # float64 (n_classes,): the raw score before any tree
    roots: np.ndarray  # int32 (n_trees,)
    feature: np.ndarray  # int32 (n_nodes,): the column a split reads
    threshold: np.ndarray  # float64 (n_nodes,)
    missing_left: np.ndarray  # bool (n_nodes,)
    left: np.ndarray  # int32 (n_nodes,)
    right: np.ndarray  # int32 (n_nodes,)
    is_leaf: np.ndarray  # bool (n_nodes,)
    value: np.ndarray  # float64 (n_nodes,): what a leaf adds to its class's raw score
    n_features: int
    levels: int = field(init=False)  # the deepest leaf's depth: the walk's steps

    DTYPES = {
        "baseline": np.float64,
        "roots": np.int32,
        "feature": np.int32,
        "threshold": np.float64,
        "missing_left": np.bool_,
        "left": np.int32,
        "right": np.int32,
        "is_leaf": np.bool_,
        "value": np.float64,
    }

    def __post_init__(self):
        """Checked as any file's contents are: shapes, types, every index in range,
        and trees that end (the walk's number of steps)."""
        for name, dtype in self.DTYPES.items():
            array = np.asarray(getattr(self, name))
            if array.ndim != 1 or not np.can_cast(array.dtype, dtype, "same_kind"):
                raise ValueError(f"trees: {name} is {array.dtype} {array.shape}, not 1-d {dtype}")
            if dtype == np.int32 and array.size:
                if array.min() < np.iinfo(dtype).min or array.max() > np.iinfo(dtype).max:
                    raise ValueError(f"trees: {name} out of range")
            setattr(self, name, np.ascontiguousarray(array, dtype=dtype))
        self.n_features = int(self.n_features)
        nodes, trees, classes = len(self.feature), len(self.roots), len(self.baseline)
        per_node = ("threshold", "missing_left", "left", "right", "is_leaf", "value")
        if any(len(getattr(self, name)) != nodes for name in per_node):
            raise ValueError("trees: the node arrays differ in length")
        if classes < 2 or trees == 0 or trees % classes or self.n_features < 1:
            raise ValueError(
                f"trees: {trees} trees of {classes} classes, {self.n_features} features"
            )
        if (
            np.any((self.roots < 0) | (self.roots >= nodes))
            or np.any((self.left < 0) | (self.left >= nodes))
            or np.any((self.right < 0) | (self.right >= nodes))
            or np.any((self.feature < 0) | (self.feature >= self.n_features))
        ):
            raise ValueError("trees: a node, child or feature index out of range")
        leaves = np.flatnonzero(self.is_leaf)
        if np.any(self.left[leaves] != leaves) or np.any(self.right[leaves] != leaves):
            raise ValueError("trees: a leaf with children")
        self.levels, frontier = 0, np.unique(self.roots[~self.is_leaf[self.roots]])
        while frontier.size:
            self.levels += 1
            if self.levels > nodes:
                raise ValueError("trees: a branch that never reaches a leaf")
            children = np.concatenate([self.left[frontier], self.right[frontier]])
            frontier = np.unique(children[~self.is_leaf[children]])

    @classmethod
    def from_estimator(cls, estimator) -> Forest:
        """The trees of a fitted ``HistGradientBoostingClassifier`` on numerical features."""
        if getattr(estimator, "is_categorical_", None) is not None and np.any(
            estimator.is_categorical_
        ):
            raise ValueError("categorical features are not supported")
        trees = [tree.nodes for rounds in estimator._predictors for tree in rounds]
        starts = np.cumsum([0] + [len(nodes) for nodes in trees])
        nodes = np.concatenate(trees)
        if np.any(nodes["is_categorical"]):
            raise ValueError("categorical splits are not supported")
        offset = np.repeat(starts[:-1], np.diff(starts))
        own = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        return cls(
            baseline=np.asarray(estimator._baseline_prediction, np.float64).reshape(-1),
            roots=starts[:-1],
            feature=np.where(leaf, 0, nodes["feature_idx"]),
            threshold=nodes["num_threshold"],
            missing_left=nodes["missing_go_to_left"].astype(bool),
            left=np.where(leaf, own, nodes["left"].astype(np.int64) + offset),
            right=np.where(leaf, own, nodes["right"].astype(np.int64) + offset),
            is_leaf=leaf,
            value=nodes["value"],
            n_features=int(estimator.n_features_in_),
        )

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        """float64 (N, n_classes): the baseline plus every tree's leaf, round by round."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"rows of {self.n_features} features expected, got {x.shape}")
        classes, trees = len(self.baseline), len(self.roots)
        children = np.stack([self.left, self.right], axis=1).astype(np.intp).ravel()
        raw = np.empty((classes, len(x)))
        step = max(1, ROWS_TIMES_TREES // trees)
        for start in range(0, len(x), step):
            rows = x[start : start + step]
            n = len(rows)
            columns = np.ascontiguousarray(rows.T).ravel()  # feature f of row r at f * n + r
            offset = self.feature.astype(np.intp) * n
            row = np.arange(n, dtype=np.intp)
            missing = bool(np.isnan(rows).any())
            node = np.repeat(self.roots.astype(np.intp)[:, None], n, axis=1)  # (trees, rows)
            for _ in range(self.levels):  # every row down every tree, one level a step
                values = columns[offset[node] + row]
                right = ~(values <= self.threshold[node])
                if missing:
                    right &= ~(np.isnan(values) & self.missing_left[node])
                node = children[2 * node + right]  # a leaf's children: itself
            leaf = self.value[node].reshape(-1, classes, n)  # (rounds, classes, rows)
            out = raw[:, start : start + n]
            out[:] = self.baseline[:, None]
            for round_ in leaf:  # scikit-learn's order of the sum
                out += round_
        return np.ascontiguousarray(raw.T)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """float64 (N, n_classes): the softmax of the raw scores."""
        proba = self.raw_scores(x)
        proba -= proba.max(axis=1, keepdims=True)
        np.exp(proba, out=proba)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.DTYPES} | {
            "n_features": np.asarray(self.n_features, np.int64)
        }

    def save(self, path: str | Path) -> None:
        """A compressed ``.npz`` of plain numeric arrays, atomically."""
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **self.arrays())

    @classmethod
    def load(cls, path: str | Path) -> Forest:
        """Read and check a :meth:`save`'d file; anything but a ``.npz`` of numeric arrays
        (a pickle above all) is refused before it is read as anything."""
        path = Path(path)
        if path.suffix != ".npz":
            raise _refused(path, "not a .npz file")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the model's trees are missing")
        with open(path, "rb") as handle:
            if handle.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
                raise _refused(path, "not a .npz file (a pickle, perhaps)")
        names = [f.name for f in fields(cls) if f.init]
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in names if name in data.files}
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise _refused(path, f"not a .npz of plain arrays ({error})") from None
        missing = [name for name in names if name not in arrays]
        if missing:
            raise _refused(path, f"no {', '.join(missing)} among its arrays")
        for name, array in arrays.items():
            if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
                raise _refused(path, f"its {name} is not numeric")
        if arrays["n_features"].shape != ():
            raise _refused(path, "its n_features is not one number")
        try:
            return cls(**arrays)
        except ValueError as error:
            raise _refused(path, str(error)) from None


@dataclass
class GbmModel(DescriptorModel):
    descriptors: tuple[str, ...]
    forest: Forest

    @classmethod
    def fit(
        cls,
        descriptors: Sequence[str],
        groups: Sequence[np.ndarray],
        labels: np.ndarray,
        params: Mapping,
        n_classes: int = N_CLASSES,
    ) -> GbmModel:
        """Boost ``params["max_iter"]`` rounds of trees on the descriptors side by side;
        the labels hold every class 0..n_classes-1 (fewer than five: an open-set
        benchmark's known classes)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        estimator = HistGradientBoostingClassifier(
            max_iter=int(params["max_iter"]),
            learning_rate=float(params["learning_rate"]),
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            l2_regularization=float(params["l2_regularization"]),
            early_stopping=False,
            random_state=int(params["seed"]),
        )
        x = cls.stack(groups)
        estimator.fit(x, np.asarray(labels))
        if list(estimator.classes_) != list(range(n_classes)):
            raise ValueError(f"the training labels hold classes {list(estimator.classes_)}")
        return cls(tuple(descriptors), Forest.from_estimator(estimator))

    @classmethod
    def fit_sets(cls, sets: Mapping[str, LoadedSet], job: Job) -> Fitted:
        """The family's step of the shared model job: the trees on the training set's
        descriptors side by side (nothing chosen on validation: clean)."""
        train = sets["train"]
        model = cls.fit(job.descriptors, train.groups, train.labels, job.settings)
        n_features = int(sum(g.shape[1] for g in train.groups))
        return Fitted(model, "clean", {"n_features": n_features})

    @staticmethod
    def stack(groups: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(g, dtype=np.float32) for g in groups], axis=1)

    def proba_from_descriptors(self, groups: Sequence[np.ndarray]) -> np.ndarray:
        return self.forest.predict_proba(self.stack(groups)).astype(np.float32)

    def save(self, folder: str | Path, **card) -> None:
        """Write the folder; ``card``: more of its model.json (what it was trained on,
        its temperature: :func:`deepfake.families.save_card`)."""
        import sklearn

        folder = Path(folder)
        self.forest.save(folder / layout.TREES)
        save_card(
            folder,
            "gbm",
            **card,
            descriptors=list(self.descriptors),
            trees=layout.TREES,
            sklearn=sklearn.__version__,
        )

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1) -> GbmModel:
        folder = Path(folder)
        card = read_card(folder)
        name = card.get("trees")
        if not isinstance(name, str) or Path(name).name != name or not name.endswith(".npz"):
            raise _refused(folder / layout.CARD, f"its trees are {name!r}, not a .npz beside it")
        return cls(tuple(card["descriptors"]), Forest.load(folder / name))
