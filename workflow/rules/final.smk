# After the search (Zoph & Le 2017, Sec. 4.1): retrain the top-k architectures on a small grid,
# pick the best run on validation and evaluate it once on the test set. With final.architectures
# (a transfer) the named architectures are retrained instead and no search runs.


rule select_top:
    input:
        unpack(select_top_inputs),
    output:
        str(LAYOUT.top),
    log:
        f"{LOGS}/final/select_top.log",
    benchmark:
        f"{LOGS}/final/select_top.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        source=select_top_args,
    shell:
        "nasrl select-top {params.source} --out {output} > {log} 2>&1"


rule retrain_final:
    input:
        top=str(LAYOUT.top),
        child=str(LAYOUT.settings("child")),
        runtime=ancient(str(LAYOUT.settings("runtime"))),
        final=str(LAYOUT.settings("final")),
        tracking=ancient(TRACKING_STATE),
    output:
        str(LAYOUT.final_run_metrics("{rank}", "{point}")),
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
        unpack(report_inputs),
        top=str(LAYOUT.top),
        runs=final_runs(),
        tracking=ancient(TRACKING_STATE),
    output:
        best=str(LAYOUT.best),
        metrics=str(LAYOUT.search_metrics),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{LOGS}/report.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        runs=final_run_dirs(),
        history=report_history_arg,
    shell:
        "nasrl report --top {input.top} --runs {params.runs} {params.history}"
        f" --experiment {EXPERIMENT}"
        " --best-out {output.best} --metrics-out {output.metrics}"
        " --tracking {input.tracking} > {log} 2>&1"


# The chosen architecture drawn by `nasrl draw`: a CNN's layers and skip connections (Fig. 7),
# a cell's tree (Fig. 5 and 8). With no architecture to draw (every final run failed, a
# tabular space) the figure says why, so the run still ends.
rule draw_best:
    input:
        str(LAYOUT.best),
    output:
        report(
            str(LAYOUT.best_diagram),
            caption="../report/best_architecture.rst",
            category="2. Final",
            labels={"result": "best architecture"},
        ),
    log:
        f"{LOGS}/final/draw_best.log",
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl draw {input} --out {output} --or-note > {log} 2>&1"


# The tables of `snakemake --report` as HTML pages (the report shows images and HTML inline,
# other files only as downloads), and final/grid.csv, the final grid as one table.
rule report_tables:
    input:
        # a transfer (final.architectures) has no search, so no rounds
        rounds=[] if TRANSFER else str(LAYOUT.rounds_table),
        runs=final_runs(),
        best=str(LAYOUT.best),
        metrics=str(LAYOUT.search_metrics),
        tracking=ancient(TRACKING_STATE),
    output:
        grid=str(LAYOUT.final_grid),
        grid_page=report(
            str(LAYOUT.report_page("final_grid")),
            caption="../report/final_grid.rst",
            category="2. Final",
            labels={"result": "final grid"},
        ),
        metrics_page=report(
            str(LAYOUT.report_page("metrics")),
            caption="../report/metrics.rst",
            category="2. Final",
            labels={"result": "headline metrics"},
        ),
        rounds_page=(
            []
            if TRANSFER
            else report(
                str(LAYOUT.report_page("rounds")),
                caption="../report/rounds.rst",
                category="1. Search",
                labels={"result": "rewards per round"},
            )
        ),
    log:
        f"{LOGS}/final/report_tables.log",
    conda:
        "../envs/nasrl.yaml"
    params:
        runs=final_run_dirs(),
        rounds=rounds_table_options,
    shell:
        "nasrl report-tables {params.rounds} --runs {params.runs} --best {input.best} --metrics {input.metrics}"
        " --grid-out {output.grid} --grid-page {output.grid_page} --metrics-page {output.metrics_page}"
        " --tracking {input.tracking} > {log} 2>&1"


# What DVC shows (dvc.yaml): this search's headline metrics, rewards and rounds, copied into
# results/compare/, one file per search, so that the random-search control joins `dvc plots
# show` and `dvc metrics show` once it has run and nothing is reported missing before.
rule compare_files:
    input:
        **compared_inputs(),
    output:
        **compared_outputs(),
    log:
        f"{LOGS}/compare_files.log",
    conda:
        "../envs/nasrl.yaml"
    shell:
        " && ".join(
            f"cp {{input.{name}}} {{output.{name}}}" for name in compared_inputs()
        )
        + " > {log} 2>&1"
