rule train_cnn:
    """Train one CNN variant (resumable after a kill); its model folder, history and
    validation and test probabilities."""
    input:
        unpack(cnn_inputs),
        code=code("train_cnn.py"),
    output:
        card=R.model_file("cnn/{variant}", layout.CARD),
        model=R.model_file("cnn/{variant}", layout.NETWORK),
        history=R.model_file("cnn/{variant}", layout.HISTORY),
        val_proba=R.model_file("cnn/{variant}", layout.VAL_PROBA),
        test_proba=R.model_file("cnn/{variant}", layout.TEST_PROBA),
        holdout_proba=R.model_file("cnn/{variant}", layout.HOLDOUT_PROBA),
        metrics=R.model_file("cnn/{variant}", layout.METRICS),
        tensorboard=directory(R.model_file("cnn/{variant}", layout.TENSORBOARD)),
    log:
        R.log("cnn/{variant}"),
    benchmark:
        R.benchmark("cnn/{variant}")
    retries: 2  # a job killed (e.g. by its time limit) resumes from its checkpoint
    conda:
        f"../envs/cnn-{config['cnn']['environment']}.yaml"
    threads: config["cnn"]["threads"]
    resources:
        mem_mb=lambda w, input: 3000 + 3 * input.size_mb,
        runtime=lambda w: 30 + 2 * cnn_settings(w.variant).epochs,
        gpu=int(config["cnn"]["environment"] == "gpu"),
    params:
        cnn=lambda w: cnn_settings(w.variant).as_params(),
        variant="{variant}",
        backend=cnn_backend(),
        work_dir=lambda w: R.checkpoints(w.variant),
        data=DATA,
    script:
        "../scripts/train_cnn.py"
