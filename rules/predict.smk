rule predict:
    input:
        unpack(predict_inputs),
    output:
        "results/predictions.csv",
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
        model=config["predict_model"],
        manifest=lambda w: folder_manifest(predict_folder()),
        backend=cnn_backend(),
    script:
        "../scripts/predict.py"
