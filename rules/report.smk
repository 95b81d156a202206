rule evaluate:
    """Per-class report and confusion matrices of one model's validation predictions."""
    input:
        val_proba=R.model_file("{family}/{name}", layout.VAL_PROBA),
        validation=R.arrays("validation"),
        code=code("evaluate.py"),
    output:
        report=R.model_file("{family}/{name}", layout.REPORT),
        confusion=report(
            R.model_file("{family}/{name}", layout.CONFUSION),
            caption="../report/confusion.rst",
            category="Confusion matrices",
            labels={"model": "{family}/{name}"},
        ),
    log:
        R.log("evaluate/{family}_{name}"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
    script:
        "../scripts/evaluate.py"


checkpoint summary:
    """One row per model, best validation accuracy first (refit: refit.model first): the
    columns a reader needs, and every field in summary_full.csv (rule predict reads it to
    resolve predict_model: best)."""
    input:
        metrics=files_of(run_models(), layout.METRICS),
        reports=files_of(run_models(), layout.REPORT),
        code=code("summary.py"),
    output:
        summary=R.summary(),
        full=R.summary_full(),
    log:
        R.log("summary"),
    conda:
        "../envs/analysis.yaml"
    params:
        first=config["refit"]["model"],
    script:
        "../scripts/summary.py"


rule submission:
    """The test-split submission (image_id,label) of the summary's first row: the best
    model, or refit.model."""
    input:
        summary=R.summary(),
        test=R.arrays("test"),
        test_proba=files_of(run_models(), layout.TEST_PROBA),
        code=code("submission.py"),
    output:
        R.submission(),
    log:
        R.log("submission"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/submission.py"


rule learning_curves:
    """Validation accuracy and loss per epoch of one ablation group, variants overlaid."""
    input:
        histories=lambda w: [
            R.model_file(f"cnn/{v}", layout.HISTORY)
            for v in ablation_groups()[w.group]
        ],
        code=code("plot_curves.py"),
    output:
        report(
            R.figure("curves_{group}.png"),
            caption="../report/curves.rst",
            category="CNN learning curves",
            labels={"setting": "{group}"},
        ),
    log:
        R.log("figures/curves_{group}"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
        variants=lambda w: ablation_groups()[w.group],
    script:
        "../scripts/plot_curves.py"


rule best_confusions:
    """Confusion matrices of the best model of each family."""
    input:
        summary=R.summary(),
        validation=R.arrays("validation"),
        val_proba=files_of(run_models(), layout.VAL_PROBA),
        code=code("plot_best_confusions.py"),
    output:
        report(
            R.figure("confusion_best.png"),
            caption="../report/confusion_best.rst",
            category="Confusion matrices",
            labels={"model": "the best of each family"},
        ),
    log:
        R.log("figures/confusion_best"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
    script:
        "../scripts/plot_best_confusions.py"


rule class_histograms:
    """The mean HSV histogram of each class of the training split."""
    input:
        hist=R.descriptors(descriptor_name(config, "hsv"), "train"),
        train=R.arrays("train"),
        code=code("plot_class_histograms.py"),
    output:
        report(
            R.figure("class_histograms.png"),
            caption="../report/class_histograms.rst",
            category="Data",
        ),
    log:
        R.log("figures/class_histograms"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
        bins=config["histogram_bins"],
    script:
        "../scripts/plot_class_histograms.py"


rule fingerprint_spectra:
    """Each class's mean high-pass residual spectrum, its difference from the other
    classes' and what a JPEG save changes in it."""
    input:
        R.arrays("train"),
        code=code("plot_fingerprint_spectra.py"),
    output:
        report(
            R.figure("fingerprint_spectra.png"),
            caption="../report/fingerprint_spectra.rst",
            category="Data",
        ),
    log:
        R.log("figures/fingerprint_spectra"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
    script:
        "../scripts/plot_fingerprint_spectra.py"


rule sample_grid:
    """A grid of training images, a row per class."""
    input:
        R.arrays("train"),
        code=code("plot_samples.py"),
    output:
        report(
            R.figure("samples.png"),
            caption="../report/samples.rst",
            category="Data",
        ),
    log:
        R.log("figures/samples"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
    script:
        "../scripts/plot_samples.py"


rule reliability:
    """Reliability diagrams of every model on validation, before and after calibration."""
    input:
        val_proba=files_of(run_models(), layout.VAL_PROBA),
        metrics=files_of(run_models(), layout.METRICS),
        validation=R.arrays("validation"),
        code=code("plot_reliability.py"),
    output:
        report(
            R.figure("reliability.png"),
            caption="../report/reliability.rst",
            category="Calibration",
        ),
    log:
        R.log("figures/reliability"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
    script:
        "../scripts/plot_reliability.py"


rule class_recall:
    """The recall of every class for every model, in one figure."""
    input:
        summary=R.summary_full(),
        code=code("plot_class_recall.py"),
    output:
        report(
            R.figure("class_recall.png"),
            caption="../report/class_recall.rst",
            category="Summary",
        ),
    log:
        R.log("figures/class_recall"),
    conda:
        "../envs/analysis.yaml"
    params:
        demo=DATA["demo"],
    script:
        "../scripts/plot_class_recall.py"


rule report_page:
    """The HTML report's landing page (what ran, the summary table, the best model, links)
    and a card per model (data, protocol, recall per class, inputs, training time)."""
    input:
        summary=R.summary(),
        full=R.summary_full(),
        metrics=files_of(run_models(), layout.METRICS),
        submission=R.submission(),
        code=code("report_page.py"),
    output:
        page=R.report_page(),
        summary=report(
            R.report_file("summary.html"),
            caption="../report/summary.rst",
            category="Summary",
        ),
        cards=[
            report(
                card,
                caption="../report/model_card.rst",
                category="Model cards",
                labels={"model": model},
            )
            for model, card in model_cards().items()
        ],
    log:
        R.log("report_page"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/report_page.py"


rule report_config:
    """The run's merged configuration as a page of the HTML report."""
    input:
        code=code("report_config.py"),
    output:
        report(
            R.report_file("configuration.html"),
            caption="../report/configuration.rst",
            category="Configuration",
        ),
    log:
        R.log("report/configuration"),
    conda:
        "../envs/analysis.yaml"
    params:
        config=configuration(),
    script:
        "../scripts/report_config.py"
