rule descriptors:
    """One descriptor of one set: hsv<bins> (HSV histograms), jointhsv, spectrum, lbp, cooc or crosscooc."""
    input:
        R.arrays("{set}"),
        code=code("descriptors.py"),
    output:
        R.descriptors("{descriptor}", "{set}"),
    log:
        R.log("descriptors/{descriptor}_{set}"),
    benchmark:
        R.benchmark("descriptors/{descriptor}_{set}")
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda w, input: 1000 + 4 * input.size_mb,
        runtime=20,
    script:
        "../scripts/descriptors.py"
