rule evaluate:
    input:
        val_proba="results/{model}/{variant}/val_proba.npy",
        validation="results/arrays/validation.npz",
        code=code("evaluate.py"),
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
        code=code("summary.py"),
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
        code=code("submission.py"),
    output:
        "results/submission.csv",
    log:
        "logs/submission.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/submission.py"


rule learning_curves:
    input:
        histories=lambda w: expand(
            "results/cnn/{v}/history.csv", v=ablation_groups()[w.group]
        ),
        code=code("plot_curves.py"),
    output:
        report(
            "results/figures/curves_{group}.png",
            caption="../report/curves.rst",
            category="CNN learning curves",
            labels={"setting": "{group}"},
        ),
    log:
        "logs/figures/curves_{group}.log",
    conda:
        "../envs/knn.yaml"
    params:
        variants=lambda w: ablation_groups()[w.group],
    script:
        "../scripts/plot_curves.py"


rule best_confusions:
    input:
        summary="results/metrics/summary.csv",
        validation="results/arrays/validation.npz",
        val_proba=expand("results/{m}/val_proba.npy", m=models()),
        code=code("plot_best_confusions.py"),
    output:
        report(
            "results/figures/confusion_best.png",
            caption="../report/confusion_best.rst",
            category="Confusion matrices",
            labels={"model": "best of each family", "variant": "-"},
        ),
    log:
        "logs/figures/confusion_best.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/plot_best_confusions.py"


rule class_histograms:
    input:
        hist=f"results/features/hsv{config['histogram_bins']}/train.npy",
        train="results/arrays/train.npz",
        code=code("plot_class_histograms.py"),
    output:
        report(
            "results/figures/class_histograms.png",
            caption="../report/class_histograms.rst",
            category="Data",
        ),
    log:
        "logs/figures/class_histograms.log",
    conda:
        "../envs/knn.yaml"
    params:
        bins=config["histogram_bins"],
    script:
        "../scripts/plot_class_histograms.py"


rule sample_grid:
    input:
        "results/arrays/train.npz",
        code=code("plot_samples.py"),
    output:
        report(
            "results/figures/samples.png",
            caption="../report/samples.rst",
            category="Data",
        ),
    log:
        "logs/figures/samples.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/plot_samples.py"
