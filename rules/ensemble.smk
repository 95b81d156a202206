rule ensemble:
    input:
        val_proba=expand("results/{m}/val_proba.npy", m=ensemble_members(config)),
        test_proba=expand("results/{m}/test_proba.npy", m=ensemble_members(config)),
        metrics=expand("results/{m}/metrics.json", m=ensemble_members(config)),
        validation="results/arrays/validation.npz",
    output:
        val_proba=f"results/ensemble/{ensemble_name()}/val_proba.npy",
        test_proba=f"results/ensemble/{ensemble_name()}/test_proba.npy",
        metrics=f"results/ensemble/{ensemble_name()}/metrics.json",
    log:
        f"logs/ensemble/{ensemble_name()}.log",
    conda:
        "../envs/knn.yaml"
    params:
        name=ensemble_name(),
        members=ensemble_members(config),
    script:
        "../scripts/ensemble.py"
