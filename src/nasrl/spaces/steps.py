"""The controller's view of a search space: a sequence of steps.

A space turns into a list of steps that the controller emits one after another
(Zoph & Le 2017, Fig. 2). A :class:`Categorical` step is a softmax over named choices;
steps of the same ``kind`` (say, every layer's filter height) share one embedding and one
softmax head in the controller. An :class:`Anchor` step is the anchor point of Fig. 4: one
independent sigmoid per candidate earlier layer, deciding which of them feed this layer.

An *action* is what the controller emits at a step: the index of the chosen value for a
categorical step, a tuple of 0/1 flags (one per candidate) for an anchor step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Categorical:
    name: str  # unique within the sequence, e.g. "layer_3.filter_height"
    kind: str  # decision type: shares embedding and softmax head, e.g. "filter_height"
    choices: tuple[Any, ...]


@dataclass(frozen=True)
class Anchor:
    name: str  # e.g. "layer_3.anchor"
    layer: int  # the layer this anchor point belongs to
    candidates: tuple[int, ...]  # earlier layers that may feed ``layer``


Step = Union[Categorical, Anchor]
Action = Union[int, tuple[int, ...]]
