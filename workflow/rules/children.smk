# One training job per distinct child (keyed by architecture + training settings), so an
# architecture sampled twice is trained once. A failing child still writes its metrics.json.


rule train_child:
    input:
        arch=child_architecture,
        child=f"{RESULTS}/settings/child.yaml",
    output:
        f"{RESULTS}/children/{{key}}/metrics.json",
    params:
        out=f"{RESULTS}/children/{{key}}",
    log:
        f"{LOGS}/children/{{key}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
        gpu=0,
    shell:
        "nasrl train-child --arch {input.arch} --config {input.child} --out {params.out} > {log} 2>&1"
