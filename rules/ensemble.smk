rule ensemble:
    """The members' probabilities combined (mean or geometric mean), as a model folder
    with its temperature."""
    input:
        unpack(ensemble_inputs),
        code=code("ensemble.py"),
    output:
        card=R.model_file(f"ensemble/{ensemble_name()}", layout.CARD),
        val_proba=R.model_file(f"ensemble/{ensemble_name()}", layout.VAL_PROBA),
        test_proba=R.model_file(f"ensemble/{ensemble_name()}", layout.TEST_PROBA),
        holdout_proba=R.model_file(f"ensemble/{ensemble_name()}", layout.HOLDOUT_PROBA),
        metrics=R.model_file(f"ensemble/{ensemble_name()}", layout.METRICS),
    log:
        R.log(f"ensemble/{ensemble_name()}"),
    conda:
        "../envs/analysis.yaml"
    params:
        name=ensemble_name(),
        members=ensemble_members(config),
        combine=config["ensemble"]["combine"],
    script:
        "../scripts/ensemble.py"
