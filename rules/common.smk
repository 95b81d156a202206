from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

DEMO_DIR = "results/demo"
SPLITS = ["train", "validation", "test"]


wildcard_constraints:
    split="train|validation|test",
    set="train|validation|test|train_aug",
    bins=r"\d+",
    features=r"hsv\d+|pixels",
    model="knn|cnn|ensemble",
    variant=r"[A-Za-z0-9_]+",
    group=r"[a-z_]+",


def data_dir():
    """The data folder: the generated demo set, or the configured one."""
    return DEMO_DIR if config["data_dir"] == "demo" else config["data_dir"].rstrip("/")


def knn_feature_sets():
    """KNN descriptors, named as their output folders: hsv<bins>, pixels."""
    bins = config["histogram_bins"]
    return [f"hsv{bins}" if f == "hsv" else f for f in config["knn"]["features"]]


def cnn_params(variant):
    """The variant's complete settings: cnn.base with its overrides applied."""
    settings = {"bins": config["histogram_bins"]} | config["cnn"]["base"]
    return settings | config["cnn"]["variants"][variant]


def trained_models():
    """Every trained model, as the results/ sub-folder holding its predictions."""
    return [f"knn/{f}" for f in knn_feature_sets()] + [
        f"cnn/{v}" for v in config["cnn"]["variants"]
    ]


def ensemble_name():
    return config.get("ensemble", {}).get("name", "mean")


def ensemble_members():
    """The ensemble's members (default: every CNN variant); [] when fewer than two."""
    members = config.get("ensemble", {}).get("members")
    if members is None:
        members = [f"cnn/{v}" for v in config["cnn"]["variants"]]
    unknown = sorted(set(members) - set(trained_models()))
    if unknown:
        raise ValueError(
            f"config ensemble.members: {unknown} are not models of this run "
            f"(choose from {trained_models()})"
        )
    return list(members) if len(members) >= 2 else []


def models():
    """Every model with predictions (trained ones and the ensemble), as its results/ folder."""
    ensemble = [f"ensemble/{ensemble_name()}"] if ensemble_members() else []
    return trained_models() + ensemble


def final_outputs():
    hist = f"results/features/hsv{config['histogram_bins']}"
    return [
        "results/metrics/summary.csv",
        "results/submission.csv",
        *figures(),
        # The features of every set, the augmented training set included, even
        # where no configured model reads them.
        *expand("{hist}/{set}.npy", hist=hist, set=SPLITS + ["train_aug"]),
    ]


def knn_inputs(wildcards):
    """Arrays (labels, and pixels for raw-pixel KNN) plus histograms where used."""
    arrays = {f"{s}_arrays": f"results/arrays/{s}.npz" for s in SPLITS}
    if wildcards.features == "pixels":
        return arrays
    return arrays | {
        f"{s}_features": f"results/features/{wildcards.features}/{s}.npy"
        for s in SPLITS
    }


def ablation_groups():
    """Variants drawn together: for each setting that some variant overrides, the
    baseline and every variant overriding it (e.g. bins: baseline, bins8, bins24)."""
    variants = config["cnn"]["variants"]
    groups = {}
    for name, overrides in variants.items():
        for key in overrides:
            groups.setdefault(key, ["baseline"] if "baseline" in variants else [])
            groups[key].append(name)
    return groups


def figures():
    """Figures collected by rule all (and by `snakemake --report`)."""
    return [
        *expand("results/{m}/confusion.png", m=models()),
        *expand("results/figures/curves_{group}.png", group=ablation_groups()),
        "results/figures/confusion_best.png",
        "results/figures/class_histograms.png",
        "results/figures/samples.png",
    ]


def cnn_inputs(wildcards):
    """Arrays, the histograms with the variant's own number of bins and, for a
    variant with a fingerprint input, that descriptor of each set."""
    params = cnn_params(wildcards.variant)
    hist = f"results/features/hsv{params['bins']}"
    inputs = {
        "train": "results/arrays/train_aug.npz",
        "train_hist": f"{hist}/train_aug.npy",
        "val": "results/arrays/validation.npz",
        "val_hist": f"{hist}/validation.npy",
        "test": "results/arrays/test.npz",
        "test_hist": f"{hist}/test.npy",
    }
    fingerprint = params.get("fingerprint", "none")
    if fingerprint != "none":
        freq = f"results/features/{fingerprint}"
        inputs |= {
            "train_freq": f"{freq}/train_aug.npy",
            "val_freq": f"{freq}/validation.npy",
            "test_freq": f"{freq}/test.npy",
        }
    return inputs
