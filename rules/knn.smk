rule knn:
    input:
        unpack(knn_inputs),
        code=code("knn.py"),
    output:
        grid="results/knn/{features}/grid.csv",
        val_proba="results/knn/{features}/val_proba.npy",
        test_proba="results/knn/{features}/test_proba.npy",
        metrics="results/knn/{features}/metrics.json",
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
