rule unknowns:
    """The detector of images of none of the five generators: distance from the training
    images in a whitened descriptor space, threshold from held-out training images."""
    input:
        unpack(unknowns_inputs),
        code=code("unknowns.py"),
    output:
        detector=R.unknowns(),
        metrics=R.unknowns_metrics(),
    log:
        R.log("unknowns"),
    benchmark:
        R.benchmark("unknowns")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=lambda w, input: 2000 + 4 * input.size_mb,
        runtime=20,
    params:
        descriptors=unknowns_descriptors(),
        unknowns=normalised(
            {
                k: v
                for k, v in config["unknowns"].items()
                if k not in ("descriptors", "model")
            }
        ),
        model=config["unknowns"]["model"],
        seed=config["calibration"]["seed"],
    script:
        "../scripts/unknowns.py"
