rule histograms:
    input:
        "results/arrays/{set}.npz",
        code=code("histograms.py"),
    output:
        "results/features/hsv{bins}/{set}.npy",
    log:
        "logs/histograms/hsv{bins}_{set}.log",
    benchmark:
        "benchmarks/histograms/hsv{bins}_{set}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda w, input: 1000 + 2 * input.size_mb,
        runtime=20,
    params:
        bins=lambda w: int(w.bins),
    script:
        "../scripts/histograms.py"


rule descriptors:
    input:
        "results/arrays/{set}.npz",
        code=code("descriptors.py"),
    output:
        "results/features/{descriptor}/{set}.npy",
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
