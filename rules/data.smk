rule demo_data:
    """Generate the synthetic demo data set in the competition's layout (data_dir: demo)."""
    input:
        code=code("make_demo.py"),
    output:
        train_csv=f"{DEMO_DIR}/train.csv",
        validation_csv=f"{DEMO_DIR}/validation.csv",
        test_csv=f"{DEMO_DIR}/test.csv",
        train=directory(f"{DEMO_DIR}/train"),
        validation=directory(f"{DEMO_DIR}/validation"),
        test=directory(f"{DEMO_DIR}/test"),
    log:
        "logs/demo_data.log",
    benchmark:
        "benchmarks/demo_data.tsv"
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
        layout.arrays("{split}"),
    log:
        "logs/ingest/{split}.log",
    benchmark:
        "benchmarks/ingest/{split}.tsv"
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


rule augment:
    """Store augmented copies of the training images (augment.*), before any training."""
    input:
        layout.arrays("train"),
        code=code("augment.py"),
    output:
        layout.arrays("train_aug"),
    log:
        "logs/augment.log",
    benchmark:
        "benchmarks/augment.tsv"
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
        arrays=[layout.arrays(s) for s in SPLITS],
        code=code("split_check.py"),
    output:
        layout.duplicates(),
    log:
        "logs/split_check.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/split_check.py"
