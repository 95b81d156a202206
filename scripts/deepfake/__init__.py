"""Deepfake attribution: which of five generators produced an image.

Pure, importable functions; the files in ``scripts/*.py`` are thin Snakemake
entry points over them.
"""

N_CLASSES = 5
IMAGE_SIZE = 100
SPLITS = ("train", "validation", "test")
