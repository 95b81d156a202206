rule evaluate:
    """Per-class report and confusion matrices of one model's validation predictions."""
    input:
        val_proba=layout.model_file("{model}/{variant}", layout.VAL_PROBA),
        validation=layout.arrays("validation"),
        code=code("evaluate.py"),
    output:
        report=layout.model_file("{model}/{variant}", layout.REPORT),
        confusion=report(
            layout.model_file("{model}/{variant}", layout.CONFUSION),
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


checkpoint summary:
    """One row per model, best validation accuracy first (rule predict reads it to
    resolve predict_model: best)."""
    input:
        metrics=files_of(run_models(), layout.METRICS),
        reports=files_of(run_models(), layout.REPORT),
        code=code("summary.py"),
    output:
        layout.summary(),
    log:
        "logs/summary.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/summary.py"


rule submission:
    """The test-split submission (image_id,label) of the summary's best model."""
    input:
        summary=layout.summary(),
        test=layout.arrays("test"),
        test_proba=files_of(run_models(), layout.TEST_PROBA),
        code=code("submission.py"),
    output:
        layout.submission(),
    log:
        "logs/submission.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/submission.py"


rule learning_curves:
    """Validation accuracy and loss per epoch of one ablation group, variants overlaid."""
    input:
        histories=lambda w: [
            layout.model_file(f"cnn/{v}", layout.HISTORY)
            for v in ablation_groups()[w.group]
        ],
        code=code("plot_curves.py"),
    output:
        report(
            layout.figure("curves_{group}.png"),
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
    """Confusion matrices of the best model of each family."""
    input:
        summary=layout.summary(),
        validation=layout.arrays("validation"),
        val_proba=files_of(run_models(), layout.VAL_PROBA),
        code=code("plot_best_confusions.py"),
    output:
        report(
            layout.figure("confusion_best.png"),
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
    """The mean HSV histogram of each class of the training split."""
    input:
        hist=layout.features(descriptor_name(config, "hsv"), "train"),
        train=layout.arrays("train"),
        code=code("plot_class_histograms.py"),
    output:
        report(
            layout.figure("class_histograms.png"),
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
    """A grid of training images, a row per class."""
    input:
        layout.arrays("train"),
        code=code("plot_samples.py"),
    output:
        report(
            layout.figure("samples.png"),
            caption="../report/samples.rst",
            category="Data",
        ),
    log:
        "logs/figures/samples.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/plot_samples.py"


rule class_recall:
    """The recall of every class for every model, in one figure."""
    input:
        summary=layout.summary(),
        code=code("plot_class_recall.py"),
    output:
        report(
            layout.figure("class_recall.png"),
            caption="../report/class_recall.rst",
            category="Summary",
        ),
    log:
        "logs/figures/class_recall.log",
    conda:
        "../envs/knn.yaml"
    script:
        "../scripts/plot_class_recall.py"


rule report_page:
    """The report's landing page (what ran, the summary table, a card per model)."""
    input:
        summary=layout.summary(),
        metrics=files_of(run_models(), layout.METRICS),
        submission=layout.submission(),
        code=code("report_page.py"),
    output:
        page=layout.report_page(),
        summary=report(
            layout.report_file("summary.html"),
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        "logs/report_page.log",
    conda:
        "../envs/knn.yaml"
    params:
        data_dir=config["data_dir"],
        demo=config["data_dir"] == "demo",
    script:
        "../scripts/report_page.py"
