"""Images/s of each KNN descriptor, against PNG decoding (one thread).

    python benchmarks/descriptors.py DATA [--images 2000] [--rounds 3]

DATA is a labelled data folder (``train/`` and ``train.csv``). The first ``--images``
PNGs of its training split are decoded with ``cv2.imread``, then every descriptor of
``deepfake.descriptors`` (``hsv16``, the reference report's 48 HSV histogram values, and
each file-level descriptor) is computed on the decoded uint8 array. Everything runs on
one thread. Prints, per descriptor, its length D, images/s (median of the rounds, with
min-max) and how many times faster than decoding it is (ratio of the medians).
"""

from __future__ import annotations

from pathlib import Path

from harness import header, parser, per_second, rounds, rounds_note, spread, table, timer


def load(data: Path, count: int) -> tuple[list[str], object]:
    """The paths of the first ``count`` training images of ``data`` and the images
    decoded, RGB uint8 (N, 100, 100, 3)."""
    import cv2
    import numpy as np
    import pandas as pd

    ids = pd.read_csv(data / "train.csv", dtype={"image_id": str})["image_id"][:count]
    paths = [str(data / "train" / f"{i}.png") for i in ids]
    return paths, np.stack([cv2.imread(p)[:, :, ::-1] for p in paths])


def measure(data: Path, count: int, n_rounds: int) -> tuple[int, list[tuple]]:
    """The number of images and the table rows (name, D, images/s, x decoding) of
    decoding and of every descriptor."""
    import cv2

    from deepfake.descriptors import DESCRIPTORS, descriptor

    cv2.setNumThreads(1)
    paths, images = load(data, count)
    n = len(images)
    names = ["hsv16", *DESCRIPTORS]
    measures = {"decode": timer(lambda: [cv2.imread(p) for p in paths])}
    measures |= {name: timer(lambda name=name: descriptor(name, images)) for name in names}
    seconds = rounds(measures, n_rounds)
    decode = per_second(n, seconds["decode"])
    rows = [("PNG decoding (cv2.imread)", "", spread(decode), "1.00x")]
    for name in names:
        rate = per_second(n, seconds[name])
        dim = descriptor(name, images[:1]).shape[1]
        rows.append((name, dim, spread(rate), f"{rate.median / decode.median:.2f}x"))
    return n, rows


def main() -> None:
    """Command line: see the module's docstring."""
    p = parser(__doc__)
    p.add_argument("data", type=Path, help="a labelled data folder (train/, train.csv)")
    p.add_argument("--images", type=int, default=2000, help="training images to use (2000)")
    args = p.parse_args()
    header(("numpy", "cv2"), extra=f"{args.data.name}, one thread")
    n, rows = measure(args.data, args.images, args.rounds)
    print(f"{n} images, {rounds_note(args.rounds)}")
    print(table(("measure", "D", "images/s", "x decoding"), rows))


if __name__ == "__main__":
    main()
