# The controller's rounds (Zoph & Le 2017, Sec. 3.2-3.3): sample K x m children (K replicas)
# from controller r - s (staleness s), train them (children.smk), collect their rewards, and
# apply the K replica updates to controller r, giving controller r + 1. With s >= 1 the next
# rounds' children train while this round's slowest ones finish (nasrl.search.rounds).


# Each config section in its own file, rewritten only when that section changes, so that
# editing the final grid does not make trained children look out of date. The child section
# is split: child.yaml holds what changes a child's result, runtime.yaml where it runs
# (accelerator, threads), which the training rules read as ancient(): changing it retrains nothing.
rule write_settings:
    output:
        str(LAYOUT.settings("{section}")),
    log:
        f"{LOGS}/settings/{{section}}.log",
    params:
        values=settings_section,
    run:
        Path(output[0]).write_text(yaml.safe_dump(params.values, sort_keys=True))


# The MLflow search run, one per search and child settings (a change to either starts a new
# one). Jobs read the state file as an ancient() input: filling in a run id later
# (`nasrl track sync`) must not make finished steps look out of date. Child jobs do not log:
# each round's update_controller logs the round's children in one process.
rule start_tracking:
    input:
        search=str(LAYOUT.settings("search")),
        child=str(LAYOUT.settings("child")),
    output:
        TRACKING_STATE,
    log:
        f"{LOGS}/tracking/start.log",
    benchmark:
        f"{LOGS}/tracking/start.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        experiment=EXPERIMENT,
        options=tracking_start_args(),
    shell:
        "nasrl track start --experiment {params.experiment} {params.options} --out {output} > {log} 2>&1"


rule init_controller:
    input:
        search=str(LAYOUT.settings("search")),
    output:
        str(LAYOUT.controller(0)),
    log:
        f"{LOGS}/controller/init.log",
    benchmark:
        f"{LOGS}/controller/init.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl init-controller --search {input.search} --out {output} > {log} 2>&1"


# The data and tracking steps and every settings file come first: a job that finishes while
# Snakemake re-plans after a checkpoint can end the run early with exit status 0
# (snakemake/snakemake#823), so nothing runs alongside a round's sampling.
checkpoint sample_architectures:
    input:
        controller=sampling_controller,
        search=str(LAYOUT.settings("search")),
        child=str(LAYOUT.settings("child")),
        data=str(LAYOUT.data_summary),
        tracking=ancient(TRACKING_STATE),
        settings=[ancient(str(LAYOUT.settings(section))) for section in SETTINGS_FILES],
    output:
        samples=directory(str(LAYOUT.samples("{round}"))),
    log:
        f"{LOGS}/rounds/{{round}}/sample.log",
    benchmark:
        f"{LOGS}/rounds/{{round}}/sample.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl sample --search {input.search} --child {input.child} --controller {input.controller}"
        " --round {wildcards.round} --out {output.samples} > {log} 2>&1"


rule collect_rewards:
    input:
        samples=str(LAYOUT.samples("{round}")),
        children=round_children,
    output:
        str(LAYOUT.rewards("{round}")),
    log:
        f"{LOGS}/rounds/{{round}}/collect.log",
    benchmark:
        f"{LOGS}/rounds/{{round}}/collect.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        children=str(LAYOUT.children_dir),
        strategy=config["search"]["strategy"],
    shell:
        "nasrl collect-rewards --samples {input.samples} --children {params.children}"
        " --strategy {params.strategy} --out {output} > {log} 2>&1"


# child.early_stopping: the curves of the completed children of rounds 0 .. r - 1 - s, which
# round r's children are stopped against (src/nasrl/pipeline/reference.py). Those rounds'
# rewards exist before round r is sampled, so the reference adds no wait to the pipeline. It
# is built after the round's sampling, not beside it: a job that ends while Snakemake re-plans
# after a checkpoint can end the whole run early with exit status 0 (snakemake/snakemake#823).
rule build_reference:
    input:
        samples=str(LAYOUT.samples("{round}")),
        rewards=reference_rounds,
    output:
        str(LAYOUT.reference("{round}")),
    log:
        f"{LOGS}/rounds/{{round}}/reference.log",
    localrule: True
    conda:
        "../envs/nasrl.yaml"
    params:
        children=str(LAYOUT.children_dir),
    shell:
        "nasrl build-reference --rewards {input.rewards} --children {params.children} --out {output} > {log} 2>&1"


rule update_controller:
    input:
        controller=previous_controller,
        sampler=previous_sampling_controller,
        rewards=previous_rewards,
        search=str(LAYOUT.settings("search")),
        tracking=ancient(TRACKING_STATE),
    output:
        controller=str(LAYOUT.controller("{round}")),
        stats=str(LAYOUT.controller_stats("{round}")),
    log:
        f"{LOGS}/controller/update_{{round}}.log",
    benchmark:
        f"{LOGS}/controller/update_{{round}}.benchmark.tsv"
    wildcard_constraints:
        round=r"(?!0000)\d{4}",
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl update-controller --search {input.search} --controller {input.controller}"
        " --sampler {input.sampler} --rewards {input.rewards} --out {output.controller} --stats {output.stats}"
        " --tracking {input.tracking} > {log} 2>&1"


rule summarize_search:
    input:
        rounds=history_tables(),
    output:
        history=str(LAYOUT.history),
        rounds=str(LAYOUT.rounds_table),
        curve=str(LAYOUT.reward_curve),
    log:
        f"{LOGS}/summarize.log",
    benchmark:
        f"{LOGS}/summarize.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl summarize --rounds {input.rounds} --out {output.history} --rounds-out {output.rounds}"
        " --curve-out {output.curve} > {log} 2>&1"


# The search figure (src/nasrl/pipeline/plots.py), a rule of its own: a random-search control
# that finishes later (random-search/dvc.yaml) is drawn into it by redrawing the figure alone.
rule plot_search:
    input:
        history=str(LAYOUT.history),
        control=control_history(),
        tracking=ancient(TRACKING_STATE),
    output:
        report(
            str(LAYOUT.search_plot),
            caption="../report/search.rst",
            category="1. Search",
            labels={"result": "search figure"},
        ),
    log:
        f"{LOGS}/plot_search.log",
    conda:
        "../envs/nasrl.yaml"
    params:
        control=control_option,
    shell:
        "nasrl plot-search --history {input.history} {params.control} --out {output}"
        " --tracking {input.tracking} > {log} 2>&1"
