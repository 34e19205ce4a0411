# One training job per distinct child (keyed by architecture + training settings), so an
# architecture sampled twice is trained once. A failing child still writes its metrics.json
# (status failed, diverged, or too_large for one over child.max_params / max_memory_gb).
# With child.early_stopping on, a child also reads its round's reference curves (search.smk,
# build_reference) and may stop early with status `stopped`.


# Loads the dataset once before any child starts: a missing data folder stops the run here,
# with one error line, instead of in every child.
rule prepare_data:
    input:
        child=str(LAYOUT.settings("child")),
    output:
        str(LAYOUT.data_summary),
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
        reference=child_reference,
        child=str(LAYOUT.settings("child")),
        runtime=ancient(str(LAYOUT.settings("runtime"))),
        data=str(LAYOUT.data_summary),
    output:
        str(LAYOUT.child_metrics("{key}")),
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
        out=str(LAYOUT.child_dir("{key}")),
        reference=reference_option,
    # A child whose process a signal killed (the kernel's OOM killer, a crash) cannot write its
    # metrics.json: `child-killed` records it as failed, so the search goes on. The exit status
    # is 128 + N for a signal N whether the training ran here or in a warm-start worker (whose
    # client exits with the worker's status). Ctrl-C, SIGHUP and SIGTERM stop the whole run and
    # this shell with it; they are passed on as failures, as is any other non-zero status.
    shell:
        "nasrl train-child --arch {input.arch} --config {input.child} --runtime {input.runtime}{params.reference}"
        " --out {params.out} > {log} 2>&1"
        " || nasrl child-killed --exit-status $? --arch {input.arch} --child {input.child} --out {params.out}"
        " >> {log} 2>&1"
