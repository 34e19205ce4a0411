"""A summary of one architecture: what ``nasrl describe`` prints (a table, or JSON with --json)."""

from __future__ import annotations

from typing import Any

from nasrl.architecture import content_key
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
    if arch["space"] == "cnn":
        from nasrl.models.cnn import CnnChild, count_parameters

        model = CnnChild(arch, in_channels=in_channels, num_classes=num_classes)
        summary.update(depth=len(arch["layers"]), params=count_parameters(model),
                       conv_weights=model.conv_weight_count(),
                       params_for={"in_channels": in_channels, "num_classes": num_classes})
    else:
        from nasrl.models.cnn import count_parameters
        from nasrl.models.rnn_cell import TreeCell

        cell = TreeCell(arch, input_size=input_size, hidden_size=hidden_size)
        summary.update(base=arch["base"], depth=arch["base"].bit_length(), params=count_parameters(cell),  # tree levels
                       params_for={"input_size": input_size, "hidden_size": hidden_size, "what": "one cell layer"})
        if language_model is not None:
            from nasrl.models.language_model import CellLanguageModel

            summary.update(model_params=count_parameters(CellLanguageModel(arch, **language_model)),
                           model_params_for={**language_model, "what": "the language model: embedding, 2 cell "
                                                                       "layers, decoder"})
    summary["decisions"] = space.describe_decisions(arch)
    return summary


def _thousands(n: int) -> str:
    return f"{n:,}"


def format_description(summary: dict[str, Any], arch: dict[str, Any], source: str = "") -> str:
    """``describe``'s summary as aligned text: a few facts, then one row per layer or per node."""
    facts = [("architecture", source)] if source else []
    facts += [("space", summary["space"]), ("key", summary["key"])]
    if summary["space"] == "cnn":
        shape = summary["params_for"]
        facts += [("layers", str(summary["depth"])),
                  ("parameters", f"{_thousands(summary['params'])} for {shape['in_channels']} input channels and "
                                 f"{shape['num_classes']} classes"),
                  ("conv weights", _thousands(summary["conv_weights"]))]
        consumed = {j for layer in arch["layers"] for j in layer["inputs"]}
        pooled = set(arch["max_pool_after"])
        rows = [{
            "layer": i, "FH": layer["filter_height"], "FW": layer["filter_width"],
            "stride": f"{layer['stride_height']}x{layer['stride_width']}", "N": layer["num_filters"],
            "inputs": " ".join(map(str, layer["inputs"])) or "image",
            "then": ", ".join((["max pool"] if i in pooled else []) + (["classifier"] if i not in consumed else [])),
        } for i, layer in enumerate(arch["layers"])]
    else:
        from nasrl.spaces.rnn_cell import tree_children

        shape = summary["params_for"]
        facts += [("base", f"{summary['base']} leaves, {2 * summary['base'] - 1} nodes"),
                  ("parameters", f"{_thousands(summary['params'])} per cell layer (input {shape['input_size']}, "
                                 f"hidden {shape['hidden_size']})")]
        if "model_params" in summary:
            lm = summary["model_params_for"]
            facts.append(("language model", f"{_thousands(summary['model_params'])} (vocabulary {lm['vocab_size']}, "
                                            f"embedding {lm['embedding_size']}, 2 cell layers)"))
        indices, inject = arch["cell_indices"], arch["cell_inject"]
        facts += [("cell inject", f"c_{{t-1}} into node {indices['inject']}: {inject['combination']}, "
                                  f"{inject['activation']}"),
                  ("new memory", f"c_t = node {indices['new_memory']} before its activation")]
        children = tree_children(summary["base"])
        root = 2 * summary["base"] - 2
        rows = [{
            "node": k, "kind": "leaf" if k < summary["base"] else ("root, h_t" if k == root else "internal"),
            "combination": node["combination"], "activation": node["activation"],
            "inputs": "x_t h_{t-1}" if k not in children else " ".join(map(str, children[k])),
        } for k, node in enumerate(arch["nodes"])]
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
