"""What ``nasrl describe`` says about a recurrent cell (Sec. 3.4)."""

from __future__ import annotations

from typing import Any

from nasrl.models.cnn import count_parameters
from nasrl.models.rnn_cell import TreeCell
from nasrl.spaces.rnn_cell import tree_children


def summarize(arch: dict[str, Any], input_size: int = 200, hidden_size: int = 200,
              language_model: dict[str, Any] | None = None, **_) -> dict[str, Any]:
    """Base, tree levels and parameters of one cell layer; with ``language_model`` (CellLanguageModel
    arguments) the whole language model's parameters too."""
    cell = TreeCell(arch, input_size=input_size, hidden_size=hidden_size)
    summary = {"base": arch["base"], "depth": arch["base"].bit_length(), "params": count_parameters(cell),  # tree levels
               "params_for": {"input_size": input_size, "hidden_size": hidden_size, "what": "one cell layer"}}
    if language_model is not None:
        from nasrl.models.language_model import CellLanguageModel

        summary.update(model_params=count_parameters(CellLanguageModel(arch, **language_model)),
                       model_params_for={**language_model, "what": "the language model: embedding, 2 cell "
                                                                   "layers, decoder"})
    return summary


def facts_and_rows(summary: dict[str, Any], arch: dict[str, Any]) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The summary's facts, and one row per tree node: combination, activation, inputs."""
    shape = summary["params_for"]
    facts = [("base", f"{summary['base']} leaves, {2 * summary['base'] - 1} nodes"),
             ("parameters", f"{summary['params']:,} per cell layer (input {shape['input_size']}, "
                            f"hidden {shape['hidden_size']})")]
    if "model_params" in summary:
        lm = summary["model_params_for"]
        facts.append(("language model", f"{summary['model_params']:,} (vocabulary {lm['vocab_size']}, "
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
    return facts, rows

