rule ensemble:
    """The equal-weight mean of the members' probabilities, as a model folder."""
    input:
        val_proba=files_of(ensemble_members(config), layout.VAL_PROBA),
        test_proba=files_of(ensemble_members(config), layout.TEST_PROBA),
        metrics=files_of(ensemble_members(config), layout.METRICS),
        validation=R.arrays("validation"),
        code=code("ensemble.py"),
    output:
        card=R.model_file(f"ensemble/{ensemble_name()}", layout.CARD),
        val_proba=R.model_file(f"ensemble/{ensemble_name()}", layout.VAL_PROBA),
        test_proba=R.model_file(f"ensemble/{ensemble_name()}", layout.TEST_PROBA),
        metrics=R.model_file(f"ensemble/{ensemble_name()}", layout.METRICS),
    log:
        R.log(f"ensemble/{ensemble_name()}"),
    conda:
        "../envs/analysis.yaml"
    params:
        name=ensemble_name(),
        members=ensemble_members(config),
    script:
        "../scripts/ensemble.py"
