# One training job per distinct child (keyed by architecture + training settings), so an
# architecture sampled twice is trained once. A failing child still writes its metrics.json.


# Loads the dataset once before any child starts: a missing data folder stops the run here,
# with one error line, instead of in every child.
rule prepare_data:
    input:
        child=f"{RESULTS}/settings/child.yaml",
    output:
        f"{RESULTS}/data.json",
    log:
        f"{LOGS}/prepare_data.log",
    benchmark:
        f"{LOGS}/prepare_data.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl prepare-data --child {input.child} --out {output} > {log} 2>&1"


rule train_child:
    input:
        arch=child_architecture,
        child=f"{RESULTS}/settings/child.yaml",
        data=f"{RESULTS}/data.json",
        tracking=ancient(TRACKING_STATE),
    output:
        f"{RESULTS}/children/{{key}}/metrics.json",
    log:
        f"{LOGS}/children/{{key}}.log",
    benchmark:
        f"{LOGS}/children/{{key}}.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
        gpu=0,
    params:
        out=f"{RESULTS}/children/{{key}}",
        round=first_round,
    shell:
        "nasrl train-child --arch {input.arch} --config {input.child} --out {params.out}"
        " --tracking {input.tracking} --round {params.round} > {log} 2>&1"
