# The controller's rounds (Zoph & Le 2017, Sec. 3.2): sample m children from controller r,
# train them (children.smk), collect their rewards, update to controller r + 1.


# Each config section in its own file, rewritten only when that section changes, so that
# editing the final grid does not make trained children look out of date.
rule write_settings:
    output:
        f"{RESULTS}/settings/{{section}}.yaml",
    log:
        f"{LOGS}/settings/{{section}}.log",
    params:
        values=settings_section,
    run:
        Path(output[0]).write_text(yaml.safe_dump(params.values, sort_keys=True))


# The MLflow search run, one per search and child settings (a change to either starts a new
# one). Jobs read the state file as an ancient() input: filling in a run id later
# (`nasrl track sync`) must not make finished children look out of date.
rule start_tracking:
    input:
        search=f"{RESULTS}/settings/search.yaml",
        child=f"{RESULTS}/settings/child.yaml",
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
        search=f"{RESULTS}/settings/search.yaml",
    output:
        f"{RESULTS}/controller/round_0000.pt",
    log:
        f"{LOGS}/controller/init.log",
    benchmark:
        f"{LOGS}/controller/init.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl init-controller --search {input.search} --out {output} > {log} 2>&1"


# The data and tracking steps come first: a job that finishes while Snakemake re-plans after a
# checkpoint can end the run early with exit status 0 (snakemake/snakemake#823), so nothing
# runs alongside a round's sampling.
checkpoint sample_architectures:
    input:
        controller=f"{RESULTS}/controller/round_{{round}}.pt",
        search=f"{RESULTS}/settings/search.yaml",
        child=f"{RESULTS}/settings/child.yaml",
        data=f"{RESULTS}/data.json",
        tracking=ancient(TRACKING_STATE),
    output:
        samples=directory(f"{RESULTS}/rounds/{{round}}/samples"),
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
        samples=f"{RESULTS}/rounds/{{round}}/samples",
        children=round_children,
    output:
        f"{RESULTS}/rounds/{{round}}/rewards.parquet",
    log:
        f"{LOGS}/rounds/{{round}}/collect.log",
    benchmark:
        f"{LOGS}/rounds/{{round}}/collect.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    params:
        children=f"{RESULTS}/children",
        strategy=config["search"]["strategy"],
    shell:
        "nasrl collect-rewards --samples {input.samples} --children {params.children}"
        " --strategy {params.strategy} --out {output} > {log} 2>&1"


rule update_controller:
    input:
        controller=previous_controller,
        rewards=previous_rewards,
        search=f"{RESULTS}/settings/search.yaml",
        tracking=ancient(TRACKING_STATE),
    output:
        controller=f"{RESULTS}/controller/round_{{round}}.pt",
        stats=f"{RESULTS}/controller/round_{{round}}.json",
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
        " --rewards {input.rewards} --out {output.controller} --stats {output.stats}"
        " --tracking {input.tracking} > {log} 2>&1"


rule summarize_search:
    input:
        rounds=expand(
            f"{RESULTS}/rounds/{{round}}/rewards.parquet",
            round=map(round_name, range(ROUNDS)),
        ),
    output:
        history=f"{RESULTS}/history.parquet",
        rounds=f"{RESULTS}/rounds.csv",
        curve=f"{RESULTS}/rewards.csv",
        plot=f"{RESULTS}/search.png",
    log:
        f"{LOGS}/summarize.log",
    benchmark:
        f"{LOGS}/summarize.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl summarize --rounds {input.rounds} --out {output.history} --rounds-out {output.rounds}"
        " --curve-out {output.curve} --plot {output.plot} > {log} 2>&1"
