# After the search (Zoph & Le 2017, Sec. 4.1): retrain the top-k architectures on a small grid,
# pick the best run on validation and evaluate it once on the test set.


rule select_top:
    input:
        history=str(LAYOUT.history),
    output:
        str(LAYOUT.top),
    log:
        f"{LOGS}/final/select_top.log",
    benchmark:
        f"{LOGS}/final/select_top.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        k=TOP_K,
    shell:
        "nasrl select-top --history {input.history} --k {params.k} --out {output} > {log} 2>&1"


rule retrain_final:
    input:
        top=str(LAYOUT.top),
        child=str(LAYOUT.settings("child")),
        runtime=ancient(str(LAYOUT.settings("runtime"))),
        final=str(LAYOUT.settings("final")),
        tracking=ancient(TRACKING_STATE),
    output:
        str(LAYOUT.final_run("{rank}", "{point}") / "metrics.json"),
    log:
        f"{LOGS}/final/retrain_{{rank}}_{{point}}.log",
    benchmark:
        f"{LOGS}/final/retrain_{{rank}}_{{point}}.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=0,
    params:
        out=str(LAYOUT.final_run("{rank}", "{point}")),
    shell:
        "nasrl retrain --top {input.top} --rank {wildcards.rank} --point {wildcards.point}"
        " --child {input.child} --runtime {input.runtime} --final {input.final} --out {params.out}"
        " --tracking {input.tracking} > {log} 2>&1"


rule report:
    input:
        top=str(LAYOUT.top),
        runs=final_runs(),
        history=str(LAYOUT.history),
        tracking=ancient(TRACKING_STATE),
    output:
        best=str(LAYOUT.best),
        metrics=str(LAYOUT.headline),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{LOGS}/report.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        runs=final_run_dirs(),
    shell:
        "nasrl report --top {input.top} --runs {params.runs} --history {input.history}"
        f" --experiment {EXPERIMENT}"
        " --best-out {output.best} --metrics-out {output.metrics}"
        " --tracking {input.tracking} > {log} 2>&1"
