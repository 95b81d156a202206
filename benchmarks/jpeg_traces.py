"""How often the JPEG-trace detector (``deepfake.traces.has_jpeg_traces``, the warning
that predictions carry) fires, per generator, on images as they are and after the round
trips of ``deepfake.degrade`` and OpenCV's own JPEG encoder; and its cost per image.

    python benchmarks/jpeg_traces.py DATA [--images 2500] [--demo]

DATA is a labelled data folder (``train/`` and ``train.csv``): the first ``--images``
training images of each class (in ``train.csv``'s order) are read as PNG. With
``--demo`` the synthetic demo set (``deepfake.demo``, seed 7, its training split) is
measured instead; its class 3 imitates JPEG laundering on purpose. Prints, per
condition, the share of each class's images the detector flags (on the originals and
on lossless WebP, false alarms; on the JPEGs, detections), and the detector's
milliseconds per 100x100 image (one thread, median of the rounds).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from harness import header, parser, table

CONDITIONS = (
    ("original PNG", "none", None),
    ("lossless WebP", "webp_lossless", None),
    ("Pillow JPEG 95", "jpeg", 95),
    ("Pillow JPEG 90", "jpeg", 90),
    ("Pillow JPEG 75", "jpeg", 75),
    ("Pillow JPEG 50", "jpeg", 50),
    ("OpenCV JPEG 95", "opencv", 95),
    ("OpenCV JPEG 75", "opencv", 75),
    ("resize 2x and back", "resize", 2.0),
    ("resize 0.5x and back", "resize", 0.5),
)


def load(data: Path, per_class: int):
    """RGB uint8 images and labels: the first ``per_class`` of each class of ``data``."""
    import cv2
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(data / "train.csv", dtype={"image_id": str})
    frame = frame.groupby("label", sort=True).head(per_class)
    images = [cv2.imread(str(data / "train" / f"{i}.png"))[:, :, ::-1] for i in frame.image_id]
    return np.stack(images), frame["label"].to_numpy()


def main() -> None:
    """Command line: see the module's docstring."""
    p = parser(__doc__, rounds=3)
    p.add_argument("data", type=Path, nargs="?", help="a labelled data folder")
    p.add_argument("--images", type=int, default=2500, help="training images per class")
    p.add_argument("--demo", action="store_true", help="the synthetic demo set instead")
    args = p.parse_args()
    if args.demo == (args.data is not None):
        p.error("give DATA or --demo")

    import cv2
    import numpy as np

    from deepfake.degrade import degrade, opencv_jpeg
    from deepfake.traces import JPEG_TRACE_THRESHOLD, has_jpeg_traces

    cv2.setNumThreads(1)
    if args.demo:
        from deepfake.demo import generate_demo

        with tempfile.TemporaryDirectory() as tmp:
            generate_demo(tmp, 5 * args.images, 5, 5, 7)
            images, labels = load(Path(tmp), args.images)
        where = "the synthetic demo set (seed 7)"
    else:
        images, labels = load(args.data, args.images)
        where = str(args.data)
    classes = sorted(set(labels.tolist()))
    header(("numpy", "cv2", "pillow"), extra=f"{len(images)} training images of {where}")

    rows = []
    for name, kind, value in CONDITIONS:
        if kind == "opencv":
            flagged = np.array([has_jpeg_traces(opencv_jpeg(im, value)) for im in images])
        else:
            flagged = np.array([has_jpeg_traces(degrade(im, kind, value)) for im in images])
        rows.append(
            [name, *[f"{flagged[labels == c].mean():.1%}" for c in classes],
             f"{flagged.mean():.1%}"]
        )  # fmt: skip
    print(table(["condition", *[f"class {c}" for c in classes], "all"], rows))

    seconds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for image in images[:500]:
            has_jpeg_traces(image)
        seconds.append((time.perf_counter() - start) / min(500, len(images)))
    print(
        f"share of images flagged (score above {JPEG_TRACE_THRESHOLD}); detector: "
        f"{1000 * float(np.median(seconds)):.1f} ms per image, one thread"
    )


if __name__ == "__main__":
    main()
