rule demo_data:
    """Generate the synthetic demo data set in the competition's layout (data_dir: demo)."""
    input:
        code=code("make_demo.py"),
    output:
        train_csv=f"{R.demo()}/train.csv",
        validation_csv=f"{R.demo()}/validation.csv",
        test_csv=f"{R.demo()}/test.csv",
        train=directory(f"{R.demo()}/train"),
        validation=directory(f"{R.demo()}/validation"),
        test=directory(f"{R.demo()}/test"),
    log:
        R.log("demo_data"),
    benchmark:
        R.benchmark("demo_data")
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        demo=normalised(config["demo"]),
    script:
        "../scripts/make_demo.py"


rule ingest:
    """Validate one split's CSV and images; store them as 100x100 RGB uint8 arrays."""
    input:
        csv=f"{data_dir()}/{{split}}.csv",
        images=f"{data_dir()}/{{split}}",
        code=code("ingest.py"),
    output:
        R.arrays("{split}"),
    log:
        R.log("ingest/{split}"),
    benchmark:
        R.benchmark("ingest/{split}")
    conda:
        "../envs/data.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        labelled=lambda w: w.split != "test",
        manifest=ingest_manifest,
    script:
        "../scripts/ingest.py"


rule trainval:
    """The training and validation images as one set, which every model of a refit run
    learns from (refit.model)."""
    input:
        train=R.arrays("train"),
        validation=R.arrays("validation"),
        code=code("trainval.py"),
    output:
        R.arrays("trainval"),
    log:
        R.log("trainval"),
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda w, input: 1000 + 3 * input.size_mb,
        runtime=10,
    script:
        "../scripts/trainval.py"


rule holdout_split:
    """Hold a stratified share of the training set out of every model's training, for
    their temperatures (calibration.holdout > 0)."""
    input:
        R.arrays(LEARN),
        code=code("holdout_split.py"),
    output:
        fit=R.arrays("fit"),
        holdout=R.arrays("holdout"),
    log:
        R.log("holdout_split"),
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda w, input: 1000 + 3 * input.size_mb,
        runtime=10,
    params:
        holdout=config["calibration"]["holdout"],
        seed=config["calibration"]["seed"],
    script:
        "../scripts/holdout_split.py"


rule augment:
    """Store augmented copies of the training images (augment.*), before any training."""
    input:
        R.arrays(TRAIN),
        code=code("augment.py"),
    output:
        R.arrays("train_aug"),
    log:
        R.log("augment"),
    benchmark:
        R.benchmark("augment")
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda w, input: 1000
        + 3 * (1 + config["augment"]["copies"]) * input.size_mb,
        runtime=30,
    params:
        augment=normalised(config["augment"]),
    script:
        "../scripts/augment.py"


rule split_check:
    """List byte-identical images under different ids across the splits."""
    input:
        arrays=[R.arrays(s) for s in SPLITS],
        code=code("split_check.py"),
    output:
        R.duplicates(),
    log:
        R.log("split_check"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/split_check.py"
