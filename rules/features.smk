rule descriptors:
    """One descriptor of one set: hsv<bins> (HSV histograms), jointhsv, spectrum, lbp, cooc or crosscooc."""
    input:
        layout.arrays("{set}"),
        code=code("descriptors.py"),
    output:
        layout.features("{descriptor}", "{set}"),
    log:
        "logs/descriptors/{descriptor}_{set}.log",
    benchmark:
        "benchmarks/descriptors/{descriptor}_{set}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda w, input: 1000 + 4 * input.size_mb,
        runtime=20,
    script:
        "../scripts/descriptors.py"
