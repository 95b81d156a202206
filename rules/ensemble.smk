rule ensemble:
    """The equal-weight mean of the members' probabilities, as a model folder."""
    input:
        val_proba=files_of(ensemble_members(config), layout.VAL_PROBA),
        test_proba=files_of(ensemble_members(config), layout.TEST_PROBA),
        metrics=files_of(ensemble_members(config), layout.METRICS),
        validation=layout.arrays("validation"),
        code=code("ensemble.py"),
    output:
        card=layout.model_file(f"ensemble/{ensemble_name()}", layout.CARD),
        val_proba=layout.model_file(f"ensemble/{ensemble_name()}", layout.VAL_PROBA),
        test_proba=layout.model_file(f"ensemble/{ensemble_name()}", layout.TEST_PROBA),
        metrics=layout.model_file(f"ensemble/{ensemble_name()}", layout.METRICS),
    log:
        f"logs/ensemble/{ensemble_name()}.log",
    conda:
        "../envs/knn.yaml"
    params:
        name=ensemble_name(),
        members=ensemble_members(config),
    script:
        "../scripts/ensemble.py"
