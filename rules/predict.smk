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


rule ship_model:
    """Pack a trained model, its members, the unknown-image detector, check images and its
    card into one folder that rule predict and deepfake-predict load anywhere."""
    input:
        unpack(ship_inputs),
        code=loader_code("ship_model.py"),
    output:
        directory(config["ship"]["folder"]),
    log:
        R.log("ship_model"),
    conda:
        "../envs/analysis.yaml"
    params:
        model=lambda w: shipped_model(),
        model_dir=lambda w: R.model_dir(shipped_model()),
        name=lambda w, output: output[0],
        data_note=config["ship"]["data_note"],
        command=rebuild_command(),
    script:
        "../scripts/ship_model.py"
