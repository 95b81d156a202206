rule knn:
    """KNN (Manhattan) on one descriptor, raw pixels or the combination: the model folder
    and its validation and test probabilities."""
    input:
        unpack(knn_inputs),
        code=code("knn.py"),
    output:
        card=R.model_file("knn/{features}", layout.CARD),
        reference=R.model_file("knn/{features}", layout.REFERENCE),
        grid=R.model_file("knn/{features}", layout.GRID),
        val_proba=R.model_file("knn/{features}", layout.VAL_PROBA),
        test_proba=R.model_file("knn/{features}", layout.TEST_PROBA),
        holdout_proba=R.model_file("knn/{features}", layout.HOLDOUT_PROBA),
        metrics=R.model_file("knn/{features}", layout.METRICS),
    log:
        R.log("knn/{features}"),
    benchmark:
        R.benchmark("knn/{features}")
    conda:
        "../envs/analysis.yaml"
    threads: 4
    resources:
        mem_mb=lambda w, input: 2000 + 6 * input.size_mb,
        runtime=60,
    params:
        k=sorted(config["knn"]["k"]),
        weights=sorted(config["knn"]["weights"]),
        combination=lambda w: combination() if w.features == "combo" else None,
        data=DATA,
    script:
        "../scripts/knn.py"
