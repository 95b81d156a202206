rule knn:
    """KNN (Manhattan) on one descriptor, raw pixels or the combination: the model folder
    and its validation and test probabilities."""
    input:
        unpack(knn_inputs),
        code=code("knn.py"),
    output:
        card=layout.model_file("knn/{features}", layout.CARD),
        reference=layout.model_file("knn/{features}", layout.REFERENCE),
        grid=layout.model_file("knn/{features}", layout.GRID),
        val_proba=layout.model_file("knn/{features}", layout.VAL_PROBA),
        test_proba=layout.model_file("knn/{features}", layout.TEST_PROBA),
        metrics=layout.model_file("knn/{features}", layout.METRICS),
    log:
        "logs/knn/{features}.log",
    benchmark:
        "benchmarks/knn/{features}.tsv"
    conda:
        "../envs/knn.yaml"
    threads: 4
    resources:
        mem_mb=lambda w, input: 2000 + 6 * input.size_mb,
        runtime=60,
    params:
        k=sorted(config["knn"]["k"]),
        weights=sorted(config["knn"]["weights"]),
        combination=lambda w: combination() if w.features == "combo" else None,
    script:
        "../scripts/knn.py"
