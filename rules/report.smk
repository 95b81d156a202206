rule evaluate:
    input:
        val_proba="results/{model}/{variant}/val_proba.npy",
        validation="results/arrays/validation.npz",
    output:
        report="results/{model}/{variant}/report.csv",
        confusion=report(
            "results/{model}/{variant}/confusion.png",
            caption="../report/confusion.rst",
            category="Confusion matrices",
            labels={"model": "{model}", "variant": "{variant}"},
        ),
    log:
        "logs/evaluate/{model}_{variant}.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/evaluate.py"


rule summary:
    input:
        metrics=expand("results/{m}/metrics.json", m=models()),
        reports=expand("results/{m}/report.csv", m=models()),
    output:
        report(
            "results/metrics/summary.csv",
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        "logs/summary.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/summary.py"


rule submission:
    input:
        summary="results/metrics/summary.csv",
        test="results/arrays/test.npz",
        test_proba=expand("results/{m}/test_proba.npy", m=models()),
    output:
        "results/submission.csv",
    log:
        "logs/submission.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/submission.py"
