"""Command line: python tools/make_split.py SOURCE DEST [--val-frac 0.2] [--per-class N]."""

from deepfake.make_split import main

if __name__ == "__main__":
    main()
