"""A summary of one architecture: what ``nasrl describe`` prints (a table, or JSON with --json)."""

from __future__ import annotations

from typing import Any

from nasrl.architecture import content_key
from nasrl.space_kinds import kind_of, load
from nasrl.spaces.containing import smallest_space_of


def describe(arch: Any, in_channels: int = 3, num_classes: int = 10, input_size: int = 200,
             hidden_size: int = 200, language_model: dict[str, Any] | None = None) -> dict[str, Any]:
    """Space, depth, parameter count (conv weights for CNNs) and decisions of ``arch``.

    ``language_model``: CellLanguageModel arguments (vocab_size, embedding_size, hidden_size,
    tie_weights); a cell's summary then also counts the whole language model.
    """
    space = smallest_space_of(arch)
    arch = space.validate(arch)
    summary: dict[str, Any] = {"space": arch["space"], "key": content_key(arch)}
    summary.update(kind_summary(arch).summarize(arch, in_channels=in_channels, num_classes=num_classes,
                                                input_size=input_size, hidden_size=hidden_size,
                                                language_model=language_model))
    summary["decisions"] = space.describe_decisions(arch)
    return summary


def kind_summary(arch: dict[str, Any]):
    """The module that describes architectures of ``arch``'s space kind (nasrl.space_kinds)."""
    return load(kind_of(arch, trainable=True).summary)


def format_description(summary: dict[str, Any], arch: dict[str, Any], source: str = "") -> str:
    """``describe``'s summary as aligned text: a few facts, then one row per layer or per node."""
    facts = [("architecture", source)] if source else []
    facts += [("space", summary["space"]), ("key", summary["key"])]
    kind_facts, rows = kind_summary(arch).facts_and_rows(summary, arch)
    facts += kind_facts
    width = max(len(name) for name, _ in facts)
    lines = [f"{name:<{width}}  {value}" for name, value in facts]
    return "\n".join(lines) + "\n\n" + text_table(rows) + "\n"


def text_table(rows: list[dict[str, Any]]) -> str:
    """Rows as aligned text: numbers to the right, words to the left, two spaces between columns."""
    columns = list(rows[0])
    cells = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[k]) for line in cells)) for k, c in enumerate(columns)]
    numeric = [all(isinstance(row[c], (int, float)) for row in rows) for c in columns]
    align = lambda text, k: text.rjust(widths[k]) if numeric[k] else text.ljust(widths[k])  # noqa: E731
    lines = [[align(c, k) for k, c in enumerate(columns)]] + [[align(t, k) for k, t in enumerate(line)] for line in cells]
    return "\n".join("  ".join(line).rstrip() for line in lines)
