"""Images/s of the ingest stage (decode, checks, HSV histograms) against decoding alone.

    python benchmarks/ingest.py DATA [--threads 2] [--images N] [--rounds 3]

DATA is a labelled data folder (``train/`` and ``train.csv``). Times, over the same PNGs
of its training split (the first ``--images``; default all):

- decoding alone: ``cv2.imread`` on one thread;
- the workflow's stage: ``deepfake.ingest.ingest_split`` (CSV checks, decoding on
  ``--threads`` threads, RGB conversion, size check) then
  ``deepfake.descriptors.hsv_histograms`` (16 bins per channel);
- with ``--threads`` above 1, decoding alone on that many threads too.

The stage's rate over one-thread decoding is its overhead (the target: at least 75%).
The files are read once before the rounds, so every measure finds them in the page cache.
"""

from __future__ import annotations

from pathlib import Path

from harness import header, parser, per_second, rounds, rounds_note, spread, table, timer


def decode_all(paths: list[str], threads: int) -> None:
    """Decode every PNG with ``cv2.imread`` on ``threads`` threads."""
    import cv2

    if threads == 1:
        for path in paths:
            cv2.imread(path, cv2.IMREAD_UNCHANGED)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda p: cv2.imread(p, cv2.IMREAD_UNCHANGED), paths):
            pass


def measure(data: Path, threads: int, count: int | None, n_rounds: int) -> tuple[int, list]:
    """The number of images and the table rows (measure, images/s, against one-thread
    decoding)."""
    import logging
    import tempfile

    import cv2
    import pandas as pd

    from deepfake.descriptors import hsv_histograms
    from deepfake.ingest import ingest_split

    cv2.setNumThreads(threads)
    frame = pd.read_csv(data / "train.csv", dtype={"image_id": str})
    with tempfile.TemporaryDirectory() as tmp:
        csv, folder = data / "train.csv", data / "train"
        if count is not None and count < len(frame):  # the stage reads a CSV: a shorter one
            csv = Path(tmp) / "train.csv"
            frame = frame[:count]
            frame.to_csv(csv, index=False)
            logging.getLogger("deepfake.ingest").setLevel(logging.ERROR)  # the unlisted rest
        paths = [str(folder / f"{i}.png") for i in frame["image_id"]]
        n = len(paths)

        def stage() -> None:
            split = ingest_split(csv, folder, labelled=True, threads=threads)
            hsv_histograms(split.images, bins=16)

        decode_all(paths, 1)  # the page cache, for every measure alike
        measures = {"decode": timer(lambda: decode_all(paths, 1)), "stage": timer(stage)}
        if threads > 1:
            measures["pooled"] = timer(lambda: decode_all(paths, threads))
        seconds = rounds(measures, n_rounds)
    decode = per_second(n, seconds["decode"])
    full = per_second(n, seconds["stage"])
    on = f"{threads} thread" + ("s" if threads > 1 else "")
    rows = [
        ("decode only (cv2.imread), 1 thread", spread(decode), "100%"),
        (f"ingest + HSV histograms, {on}", spread(full),
         f"{full.median / decode.median:.0%}"),
    ]  # fmt: skip
    if threads > 1:
        pooled = per_second(n, seconds["pooled"])
        rows.append((f"decode only, {on}", spread(pooled),
                     f"{pooled.median / decode.median:.0%}"))  # fmt: skip
    return n, rows


def main() -> None:
    """Command line: see the module's docstring."""
    p = parser(__doc__)
    p.add_argument("data", type=Path, help="a labelled data folder (train/, train.csv)")
    p.add_argument("--threads", type=int, default=1, help="decoding threads of ingest (1)")
    p.add_argument("--images", type=int, default=None, help="the first N images (all)")
    args = p.parse_args()
    header(("numpy", "cv2"), extra=args.data.name)
    n, rows = measure(args.data, args.threads, args.images, args.rounds)
    print(f"{n} images, {rounds_note(args.rounds)}")
    print(table(("measure", "images/s", "x 1-thread decoding"), rows))


if __name__ == "__main__":
    main()
