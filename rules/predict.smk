rule predict:
    """Attribute every image of predict_dir with predict_model: results/predictions.csv."""
    input:
        unpack(predict_inputs),
    output:
        R.predictions(),
    log:
        R.log("predict"),
    benchmark:
        R.benchmark("predict")
    conda:
        f"../envs/cnn-{config['cnn']['environment']}.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        model=lambda w: predicted_model(),
        model_dir=lambda w: predicted_model_dir(),
        manifest=lambda w: folder_manifest(predict_folder()),
        backend=cnn_backend(),
    script:
        "../scripts/predict.py"
