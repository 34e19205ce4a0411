# search.updates async (Zoph & Le 2017, Sec. 3.3; docs/scaling.md, "Asynchronous replicas"): each
# of the K replicas runs its own chain of batches. Batch (j, k) samples m children from the
# controller its replica's previous update produced, which was the newest when it was made; once
# its children end, apply_batch applies its update to the newest controller under the journal's
# lock and appends the new version to results/{experiment}/journal.jsonl. No round waits for
# its slowest child: the replicas' updates interleave in the order their batches end.


# The journal's header: the search it belongs to (settings digest), K and the steps per replica.
# Rewritten, with every batch after it, when the search or child settings change.
rule start_journal:
    input:
        controller=str(LAYOUT.controller(0)),
        search=str(LAYOUT.settings("search")),
        child=str(LAYOUT.settings("child")),
    output:
        JOURNAL,
    log:
        f"{LOGS}/batches/journal.log",
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl start-journal --search {input.search} --child {input.child} --out {output} > {log} 2>&1"


# As a round's sampling (search.smk), the data, tracking and settings steps come first: nothing
# may end while Snakemake re-plans after a checkpoint (snakemake/snakemake#823).
checkpoint sample_batch:
    input:
        controller=batch_sampling_controller,
        search=str(LAYOUT.settings("search")),
        child=str(LAYOUT.settings("child")),
        data=str(LAYOUT.data_summary),
        tracking=ancient(TRACKING_STATE),
        journal=ancient(JOURNAL),
        settings=[ancient(str(LAYOUT.settings(section))) for section in SETTINGS_FILES],
    output:
        samples=directory(str(LAYOUT.batch_samples("{step}", "{replica}"))),
    log:
        f"{LOGS}/batches/{{step}}-{{replica}}/sample.log",
    benchmark:
        f"{LOGS}/batches/{{step}}-{{replica}}/sample.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl sample-batch --search {input.search} --child {input.child} --controller {input.controller}"
        " --step {wildcards.step} --replica {wildcards.replica} --out {output.samples} > {log} 2>&1"


rule collect_batch:
    input:
        samples=str(LAYOUT.batch_samples("{step}", "{replica}")),
        children=batch_children,
    output:
        str(LAYOUT.batch_rewards("{step}", "{replica}")),
    log:
        f"{LOGS}/batches/{{step}}-{{replica}}/collect.log",
    conda:
        "../envs/nasrl.yaml"
    params:
        children=str(LAYOUT.children_dir),
        strategy=config["search"]["strategy"],
    shell:
        "nasrl collect-rewards --samples {input.samples} --children {params.children}"
        " --strategy {params.strategy} --out {output} > {log} 2>&1"


# The update, applied to whatever version is newest when it runs; `after` orders it behind the
# versions already in the journal (a resumed search) or in the replayed one (journal_order).
rule apply_batch:
    input:
        sampler=batch_sampling_controller,
        rewards=str(LAYOUT.batch_rewards("{step}", "{replica}")),
        search=str(LAYOUT.settings("search")),
        child=str(LAYOUT.settings("child")),
        journal=ancient(JOURNAL),
        tracking=ancient(TRACKING_STATE),
        after=journal_order,
    output:
        controller=str(LAYOUT.batch_controller("{step}", "{replica}")),
        stats=str(LAYOUT.batch_update("{step}", "{replica}")),
    log:
        f"{LOGS}/batches/{{step}}-{{replica}}/apply.log",
    benchmark:
        f"{LOGS}/batches/{{step}}-{{replica}}/apply.benchmark.tsv"
    conda:
        "../envs/nasrl.yaml"
    shell:
        "nasrl apply-batch --search {input.search} --child {input.child} --journal {input.journal}"
        " --step {wildcards.step} --replica {wildcards.replica} --sampler {input.sampler}"
        " --rewards {input.rewards} --out {output.controller} --stats {output.stats}"
        " --tracking {input.tracking} > {log} 2>&1"


# The newest controller once every batch is applied: the journal's last version, copied.
rule final_controller:
    input:
        updates=[
            str(LAYOUT.batch_update(step, replica))
            for step in range(ROUNDS)
            for replica in range(REPLICAS)
        ],
        journal=ancient(JOURNAL),
    output:
        str(LAYOUT.final_controller),
    log:
        f"{LOGS}/batches/final_controller.log",
    run:
        import shutil
        from nasrl.pipeline.async_steps import final_controller

        shutil.copyfile(final_controller(LAYOUT), output[0])
