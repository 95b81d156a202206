rule gbm:
    """Gradient-boosted trees on the hand-made descriptors side by side: the model folder
    and its validation and test probabilities."""
    input:
        unpack(gbm_inputs),
        code=code("gbm.py"),
    output:
        card=R.model_file("gbm/{name}", layout.CARD),
        trees=R.model_file("gbm/{name}", layout.TREES),
        val_proba=R.model_file("gbm/{name}", layout.VAL_PROBA),
        test_proba=R.model_file("gbm/{name}", layout.TEST_PROBA),
        holdout_proba=R.model_file("gbm/{name}", layout.HOLDOUT_PROBA),
        metrics=R.model_file("gbm/{name}", layout.METRICS),
    log:
        R.log("gbm/{name}"),
    benchmark:
        R.benchmark("gbm/{name}")
    conda:
        "../envs/analysis.yaml"
    threads: 2
    resources:
        mem_mb=lambda w, input: 2000 + 4 * input.size_mb,
        runtime=60,
    params:
        name="{name}",
        data=DATA,
        descriptors=gbm_descriptors(),
        gbm=normalised(
            {
                k: v
                for k, v in config["gbm"].items()
                if k not in ("name", "descriptors")
            }
        ),
    script:
        "../scripts/gbm.py"
