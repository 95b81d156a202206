rule predict:
    """Attribute every image of predict_dir with predict_model: results/predictions.csv."""
    input:
        unpack(predict_inputs),
    output:
        layout.predictions(),
    log:
        "logs/predict.log",
    benchmark:
        "benchmarks/predict.tsv"
    conda:
        f"../envs/cnn-{config['cnn']['environment']}.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        model=lambda w: predicted_model(),
        manifest=lambda w: folder_manifest(predict_folder()),
        backend=cnn_backend(),
    script:
        "../scripts/predict.py"
