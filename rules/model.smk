# One rule per family of the registry that the shared model job trains (its record's
# `descriptors` set), named after the family: its inputs, outputs, params, threads and
# resources come from that record (rules/common.smk, deepfake.families).
for family in descriptor_families():

    rule:
        """A model of one family on the file-level descriptors (KNN on one descriptor,
        raw pixels or the combination; gbm on descriptors side by side; ...): its model
        folder, its calibrated validation, test and held-out probabilities, its metrics.
        """
        name:
            family.rule
        input:
            unpack(model_inputs(family)),
            code=sorted({*code("model.py"), *family_code(family)}),
        output:
            **model_outputs(family),
        log:
            R.log(f"{family.name}/{{name}}"),
        benchmark:
            R.benchmark(f"{family.name}/{{name}}")
        conda:
            "../envs/analysis.yaml"
        threads: family.threads
        resources:
            **model_resources(family),
        params:
            **model_params(family),
        script:
            "../scripts/model.py"
