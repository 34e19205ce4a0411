"""The workflow's first step: load the dataset once and record what the children will see.

Fails the run early, with the data module's one-line error (a missing CIFAR-10 folder, say),
before any child job starts, and writes ``data.json``: dataset, split sizes, and the
normalisation statistics (images) or vocabulary size (text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasrl.io import write_json
from nasrl.settings import ChildConfig
from nasrl.space_kinds import KINDS, load


def prepare_dataset(child: ChildConfig, out: str | Path) -> dict[str, Any]:
    if child.surrogate is not None:  # no data: the table is read (and its columns checked) once here
        from nasrl.training.surrogate import SurrogateTable

        table = SurrogateTable.load(child.surrogate)
        summary = {"dataset": "surrogate", "table": child.surrogate.table, "rows": len(table.rows)}
        write_json(out, summary)
        return summary
    if not isinstance(child.dataset, str):
        return prepare_own_dataset(child, out)
    from nasrl.data import DATASET_KINDS, make_datamodule

    if child.dataset not in DATASET_KINDS:
        raise ValueError(f"child.dataset: {child.dataset!r} is not one of {sorted(DATASET_KINDS)}")
    kind = DATASET_KINDS[child.dataset]
    # the options the children's data module gets: those of the system of a space kind reading this data
    system = load(next(k.system for k in KINDS.values() if k.data == kind))
    datamodule = make_datamodule(child.dataset, child.data_dir, batch_size=child.batch_size,
                                 **system.data_options(child))
    datamodule.prepare_data()
    datamodule.setup("fit")
    summary: dict[str, Any] = {"dataset": child.dataset, "kind": kind, "data_dir": child.data_dir}
    return write_summary(summary, kind, datamodule, out)


def prepare_own_dataset(child: ChildConfig, out: str | Path) -> dict[str, Any]:
    """Data of one's own: read again and checked to be the data the run was planned with (the
    digest in the child settings), so children never train on files changed since the plan."""
    from nasrl.data import make_datamodule
    from nasrl.own_data import DataError, inspect

    spec = child.dataset.model_dump()
    facts = inspect(spec, child.seed)
    if spec["digest"] is not None and facts.digest != spec["digest"]:
        raise DataError(f"{facts.source}: changed since the run was planned (content hash {facts.digest[:12]}, "
                        f"planned {spec['digest'][:12]}); expected the planned data: run the workflow again")
    kwargs: dict[str, Any] = {"batch_size": child.batch_size, "seed": child.seed, "bptt": child.language_model.bptt}
    if child.augment is not None:
        kwargs["augment"] = child.augment
    datamodule = make_datamodule(spec, child.data_dir, **kwargs)
    datamodule.prepare_data()
    datamodule.setup("fit")
    summary = {"dataset": spec, "kind": facts.kind, "data_dir": None, "digest": facts.digest}
    return write_summary(summary, facts.kind, datamodule, out, facts)


def write_summary(summary: dict[str, Any], kind: str, datamodule, out: str | Path, facts=None) -> dict[str, Any]:
    if facts is not None and not hasattr(datamodule, "split_size" if kind == "image" else "num_tokens"):
        # a module of one's own: the attributes the plan read, its splits unknown
        if kind == "image":
            summary.update(in_channels=facts.shape[0], num_classes=facts.num_classes, image_size=facts.shape[1])
        else:
            summary.update(vocab_size=facts.vocab_size)
        write_json(out, summary)
        return summary
    if kind == "image":
        summary.update(
            splits={split: datamodule.split_size(split) for split in ("train", "val", "test")},
            in_channels=datamodule.in_channels, num_classes=datamodule.num_classes, image_size=datamodule.image_size,
            mean=[round(float(v), 6) for v in datamodule.mean], std=[round(float(v), 6) for v in datamodule.std],
        )
    else:
        summary.update(splits={split: datamodule.num_tokens(split) for split in ("train", "valid", "test")},
                       vocab_size=datamodule.vocab_size)
        if hasattr(datamodule, "fingerprint"):
            summary["fingerprint"] = datamodule.fingerprint
    write_json(out, summary)
    return summary
