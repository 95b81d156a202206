"""How well the unknown-image detector separates the five generators' images from images
it must call unknown (a benchmark of a trained detector, not a test).

    python benchmarks/unknowns.py RESULTS [--model models/laptop]

RESULTS is a run's results folder on real data: its validation arrays are the
in-distribution images, its detector (``unknowns/unknowns.npz``) and the model the
detector was fitted with (``unknowns.model``) score them; with ``--model`` a shipped
model folder and the detector packed in it do. Against them, images it must call unknown:

- ``natural``: 100x100 crops of natural photographs that installed packages ship
  (scikit-learn's sample images; scikit-image's colour photographs when it is installed),
  40 crops each at seeded random places;
- ``demo``: the synthetic demo images (``deepfake.demo``, 500 of them);
- the hard cases, reported apart: the validation images recompressed as JPEG of quality
  30 (``jpeg30``) and upscaled from 50x50 (``upscaled``).

Prints, for each set, the AUROC of the unknown score (validation images against the
set's) and the share called unknown, and the share of validation images called unknown.
No download: every image comes from the data or from installed packages.

    python benchmarks/unknowns.py RESULTS --leave-one-out --descriptors NAME... [--max-iter N]

Generators it has never seen (open-set attribution): for each of the five classes, the
gradient-boosted trees (``deepfake.gbm_model``, the config schema's gbm settings) and a
detector (``deepfake.unknowns``, fitted as the workflow fits it: distance on the
training images, standardised and thresholded on 5% of them held out, seeded) learn the
other four classes' training images; the held-out generator's validation images are the
unknowns, the four known classes' validation images the knowns. RESULTS is a run's
results folder holding the descriptors (``descriptors/<name>/{train,validation}.npy``)
and arrays of its train and validation splits. Prints, per held-out generator, the AUROC
of the trees' uncertainty (entropy), of the distance and of the detector's score (their
standardised sum), and at the two operating points where 5% and 10% of the knowns are
called unknown (thresholds on the knowns' scores): the share of the knowns classified
right and not called unknown (the correct classification rate of OSCR) and the share of
the unknowns caught.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from harness import REPO, header, parser, table

SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                  "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png",
                  "retina.jpg", "ihc.png")  # fmt: skip
CROPS_PER_PHOTO = 40


def photo_paths() -> list[Path]:
    """The colour photographs that installed packages ship."""
    import sklearn

    paths = sorted((Path(sklearn.__file__).parent / "datasets" / "images").glob("*.jpg"))
    try:
        import skimage

        folder = Path(skimage.__file__).parent / "data"
        paths += [folder / name for name in SKIMAGE_PHOTOS if (folder / name).is_file()]
    except ImportError:
        pass
    return paths


def natural_crops(seed: int = 0) -> np.ndarray:
    """100x100 RGB crops of the photographs, at seeded random places."""
    rng = np.random.default_rng(seed)
    crops = []
    for path in photo_paths():
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = image.shape[:2]
        for _ in range(CROPS_PER_PHOTO):
            y, x = rng.integers(0, h - 100), rng.integers(0, w - 100)
            crops.append(image[y : y + 100, x : x + 100])
    return np.stack(crops)


def demo_images(n: int = 500, seed: int = 7) -> np.ndarray:
    from deepfake.demo import generate_demo

    with tempfile.TemporaryDirectory() as tmp:
        generate_demo(tmp, 5, n, 5, seed)
        paths = sorted((Path(tmp) / "validation").glob("*.png"))
        return np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths])


def jpeg(images: np.ndarray, quality: int = 30) -> np.ndarray:
    from deepfake.degrade import opencv_jpeg

    return np.stack([opencv_jpeg(i, quality) for i in images])


def upscaled(images: np.ndarray, side: int = 50) -> np.ndarray:
    def once(image):
        small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (100, 100), interpolation=cv2.INTER_CUBIC)

    return np.stack([once(i) for i in images])


def schema_defaults(section: str) -> dict:
    """The config schema's defaults of one section."""
    from deepfake.config import read_schema, section_defaults

    return section_defaults(read_schema(REPO / "schemas" / "config.schema.yaml"), section)


def open_set(
    train: list[np.ndarray], train_labels: np.ndarray, validation: list[np.ndarray],
    val_labels: np.ndarray, left_out: int, descriptors: list[str], params: dict,
    detector_params: dict, holdout: float = 0.05, seed: int = 0,
) -> dict:  # fmt: skip
    """One generator left out: the trees and the detector learn the other classes'
    training images; the measures on the validation images (module docstring)."""
    from sklearn.metrics import roc_auc_score

    from deepfake.gbm_model import GbmModel
    from deepfake.training_sets import holdout_mask
    from deepfake.unknowns import UnknownDetector, entropy

    known = train_labels != left_out
    classes = [c for c in np.unique(train_labels) if c != left_out]
    remap = np.full(train_labels.max() + 1, -1)
    remap[classes] = np.arange(len(classes))
    groups, labels = [g[known] for g in train], remap[train_labels[known]]
    held = holdout_mask(labels, holdout, seed)
    model = GbmModel.fit(
        descriptors, [g[~held] for g in groups], labels[~held], params, len(classes)
    )
    detector = UnknownDetector.fit(
        descriptors, [g[~held] for g in groups], [g[held] for g in groups],
        heldout_proba=model.proba_from_descriptors([g[held] for g in groups]), model="gbm",
        **detector_params,
    )  # fmt: skip
    proba = model.proba_from_descriptors(validation)
    distance = detector.distances(validation)
    score = detector.combine(distance, proba)
    unknown = val_labels == left_out
    measures = {
        f"AUROC {name}": roc_auc_score(unknown, values)
        for name, values in (("entropy", entropy(proba)), ("distance", distance),
                             ("score", score))
    }  # fmt: skip
    right = proba.argmax(axis=1) == remap[np.where(unknown, classes[0], val_labels)]
    for called in (0.05, 0.10):
        threshold = np.quantile(score[~unknown], 1 - called)
        accepted = score <= threshold
        measures[f"CCR at {called:.0%}"] = float(np.mean((right & accepted)[~unknown]))
        measures[f"caught at {called:.0%}"] = float(np.mean(~accepted[unknown]))
    measures["known accuracy"] = float(np.mean(right[~unknown]))
    return measures


def leave_one_out(args) -> None:
    """The open-set benchmark (module docstring): every generator left out in turn."""
    from deepfake.io import load_arrays
    from deepfake.layout import Layout

    paths = Layout(str(args.results))
    descriptors = args.descriptors
    sets = {}
    for split in ("train", "validation"):
        missing = [d for d in descriptors if not Path(paths.descriptors(d, split)).is_file()]
        if missing:
            sys.exit(f"{args.results}: no {split} descriptors {missing} (run the workflow "
                     f"with them as targets: {paths.descriptors(missing[0], split)})")  # fmt: skip
        groups = [np.load(paths.descriptors(d, split)) for d in descriptors]
        sets[split] = groups, load_arrays(paths.arrays(split))["labels"]
    params = schema_defaults("gbm") | ({"max_iter": args.max_iter} if args.max_iter else {})
    detector = {k: v for k, v in schema_defaults("unknowns").items() if k in ("dims", "k")}
    header(
        ("numpy", "sklearn"),
        extra=f"{len(sets['train'][1])} training and {len(sets['validation'][1])} validation "
        f"images of {args.results} | descriptors {' '.join(descriptors)} | gbm "
        f"{params['max_iter']} rounds | detector {detector}",
    )
    columns = ["left out", "known accuracy", "AUROC entropy", "AUROC distance", "AUROC score",
               "CCR at 5%", "caught at 5%", "CCR at 10%", "caught at 10%"]  # fmt: skip
    rows, results = [], []
    for left_out in range(5):
        measures = open_set(*sets["train"], *sets["validation"], left_out, descriptors,
                            params, detector)  # fmt: skip
        results.append(measures)
        rows.append([f"class {left_out}", *[f"{measures[c]:.3f}" for c in columns[1:]]])
        print(f"# class {left_out} done", flush=True)
    rows.append(["mean", *[f"{np.mean([m[c] for m in results]):.3f}" for c in columns[1:]]])
    print(table(columns, rows))
    print("AUROC: the held-out generator's validation images against the four known ones'; "
          "CCR: knowns classified right and not called unknown; caught: unknowns called "
          "unknown; at thresholds calling 5% and 10% of the knowns unknown")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__, rounds=1)
    p.add_argument("results", type=Path, help="a run's results folder on real data")
    p.add_argument("--model", type=Path, help="a model folder holding its own detector")
    p.add_argument("--leave-one-out", action="store_true",
                   help="open-set attribution: each generator left out in turn")  # fmt: skip
    p.add_argument(
        "--descriptors",
        nargs="+",
        help="with --leave-one-out: the descriptors "
        "of the trees and the detector, as output folders (hsv16, cooc, ...)",
    )
    p.add_argument("--max-iter", type=int, help="with --leave-one-out: the trees' rounds")
    args = p.parse_args(argv)
    if args.leave_one_out:
        if not args.descriptors:
            p.error("--leave-one-out needs --descriptors")
        return leave_one_out(args)
    from deepfake.backend import configure

    configure(threads=2)
    from sklearn.metrics import roc_auc_score

    from deepfake.families import load
    from deepfake.io import load_arrays
    from deepfake.layout import UNKNOWNS, Layout
    from deepfake.unknowns import UnknownDetector

    paths = Layout(str(args.results))
    detector = UnknownDetector.load(args.model / UNKNOWNS if args.model else paths.unknowns())
    model = None
    if args.model or detector.model:
        model = load(args.model or paths.model_dir(detector.model), threads=2)
    validation = load_arrays(paths.arrays("validation"))["images"]
    scored_by = f"distance + {args.model or detector.model} uncertainty" if model else "distance"
    header(
        ("numpy", "cv2", "sklearn", "keras"),
        extra=f"{len(validation)} validation images; score: {scored_by}",
    )

    def score(images):
        proba = model.predict_proba(images) if model is not None else None
        return detector.score(images, proba)

    inside, threshold = score(validation)
    sets = {
        "natural": natural_crops(),
        "demo": demo_images(),
        "jpeg30 (hard)": jpeg(validation),
        "upscaled (hard)": upscaled(validation),
    }
    rows = []
    for name, images in sets.items():
        scores, _ = score(images)
        truth = np.r_[np.zeros(len(inside)), np.ones(len(scores))]
        auroc = roc_auc_score(truth, np.r_[inside, scores])
        rows.append([name, len(images), f"{auroc:.3f}", f"{np.mean(scores > threshold):.1%}"])
    rows.append(["validation (false unknowns)", len(inside), "",
                 f"{np.mean(inside > threshold):.2%}"])  # fmt: skip
    print(table(["images", "n", "AUROC", "called unknown"], rows))
    print(f"threshold {threshold:.3f} ({detector.quantile:.0%} quantile of held-out "
          f"training images' scores)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
