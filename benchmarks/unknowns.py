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
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from harness import header, parser, table

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
    def once(image):
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    return np.stack([once(i) for i in images])


def upscaled(images: np.ndarray, side: int = 50) -> np.ndarray:
    def once(image):
        small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (100, 100), interpolation=cv2.INTER_CUBIC)

    return np.stack([once(i) for i in images])


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__, rounds=1)
    p.add_argument("results", type=Path, help="a run's results folder on real data")
    p.add_argument("--model", type=Path, help="a model folder holding its own detector")
    args = p.parse_args(argv)
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
