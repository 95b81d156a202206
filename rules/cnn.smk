rule train_cnn:
    input:
        unpack(cnn_inputs),
        code=code("train_cnn.py"),
    output:
        model="results/cnn/{variant}/model.keras",
        history="results/cnn/{variant}/history.csv",
        val_proba="results/cnn/{variant}/val_proba.npy",
        test_proba="results/cnn/{variant}/test_proba.npy",
        metrics="results/cnn/{variant}/metrics.json",
        tensorboard=directory("results/cnn/{variant}/tensorboard"),
    log:
        "logs/cnn/{variant}.log",
    benchmark:
        "benchmarks/cnn/{variant}.tsv"
    retries: 2  # a job killed (e.g. by its time limit) resumes from its checkpoint
    conda:
        f"../envs/cnn-{config['cnn']['environment']}.yaml"
    threads: config["cnn"]["threads"]
    resources:
        mem_mb=lambda w, input: 3000 + 3 * input.size_mb,
        runtime=lambda w: 30 + 2 * cnn_params(w.variant)["epochs"],
        gpu=int(config["cnn"]["environment"] == "gpu"),
    params:
        cnn=lambda w: cnn_params(w.variant),
        variant="{variant}",
        backend=cnn_backend(),
        work_dir="results/.checkpoints/cnn/{variant}",
    script:
        "../scripts/train_cnn.py"
