# nasrl: Neural Architecture Search with Reinforcement Learning (Zoph & Le, ICLR 2017).
#
#   snakemake --cores all                                  the embedded default search (offline)
#   snakemake --cores all --configfile config/cifar10-paper.yaml
#
# Data flow: workflow/rules/search.smk (controller rounds), children.smk (one job per child),
# final.smk (retraining of the best architectures and the report). Config keys:
# config/README.md; checked by the settings model, src/nasrl/settings/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# `snakemake --report report.html`: one offline HTML file with the search figure, the rounds
# table, the best architecture, the final grid and the headline metrics (captions in
# workflow/report/; the files are marked with report() in the rules).
report: "workflow/report/workflow.rst"


# ----- load rules -------------------------------------------------------------------------
include: "workflow/rules/common.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/async.smk"
include: "workflow/rules/children.smk"
include: "workflow/rules/final.smk"


# The controller steps take seconds and no GPU: on a cluster (`--profile slurm`) they run on
# the submitting host instead of waiting in the queue. Training, data checks and the final
# test evaluation are cluster jobs.
localrules:
    write_settings,
    start_tracking,
    init_controller,
    sample_architectures,
    collect_rewards,
    update_controller,
    start_journal,
    sample_batch,
    collect_batch,
    apply_batch,
    final_controller,
    summarize_search,
    plot_search,
    select_top,
    report_tables,
    draw_best,
    compare_files,
    all,


# ----- target rules -----------------------------------------------------------------------
rule all:
    default_target: True
    input:
        final_targets(),
        report_targets(),


# ----- messages ---------------------------------------------------------------------------
# Where to look at the finished search: the MLflow runs table (src/nasrl/tracking/links.py).
# A run Snakemake ended early with exit status 0 (unfinished_search) exits 1 instead, saying so.
onsuccess:
    missing = unfinished_search()
    if missing:
        sys.exit(
            f"the run ended before the search finished ({len(missing)} results missing, such as "
            f"{missing[0]}): Snakemake can stop after a round's sampling with jobs left "
            "(snakemake/snakemake#823). Run the same command again: it continues where it stopped."
        )
    print(tracking_hint())
