rule demo_data:
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
    input:
        csv=f"{data_dir()}/{{split}}.csv",
        images=f"{data_dir()}/{{split}}",
        code=code("ingest.py"),
    output:
        "results/arrays/{split}.npz",
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
    input:
        "results/arrays/train.npz",
        code=code("augment.py"),
    output:
        "results/arrays/train_aug.npz",
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
    input:
        arrays=expand("results/arrays/{s}.npz", s=SPLITS),
        code=code("split_check.py"),
    output:
        "results/arrays/duplicates.txt",
    log:
        "logs/split_check.log",
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/split_check.py"
