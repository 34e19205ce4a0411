"""The kinds of search space, one entry each: what a kind's children read, how they are scored,
and where its search space, network, training system and diagram live.

Every layer asks this table instead of branching on ``arch["space"]``: the settings check a
config's dataset against ``data``, the training job builds ``network`` inside ``system`` and
scores ``metric`` with the ``reward`` rule, ``nasrl draw`` builds ``graph`` and renders it with
``figure``. A new kind is one entry here, its space and its network (with the training system
it needs, if neither existing one fits).

The code a kind names is given as ``"module:attribute"`` and imported by :func:`load` in the
layer that uses it, never here: this module imports only the package's errors, so the lowest
layers (settings, spaces) can read the table without importing torch. Each reference names code of the layer
that loads it or a lower one (``tests/test_import_graph.py`` checks the targets' layers).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from nasrl.errors import ArchitectureError


@dataclass(frozen=True)
class SpaceKind:
    """One kind of search space (the ``type`` of a space spec, the ``space`` of its architectures).

    Attributes:
        name: the kind's name.
        description: a few words for help texts and errors.
        space: the ``SearchSpace`` class (``nasrl.spaces``) its specs build.
        data: the data its children read ("image" | "text"); None for a kind without a network,
            whose children are looked up in a table (surrogates).
        metric: the validation metric a child is judged by (``val_acc`` | ``val_ppl``).
        higher_is_better: the metric's direction (the best epoch, the median stopping rule).
        reward: the rule turning the metric's curve into a reward (``nasrl.training.rewards``:
            ``accuracy``, Sec. 3.2's cube; ``perplexity``, Sec. 4.2's c / ppl^2).
        network: the ``torch.nn.Module`` of a child (``nasrl.models``).
        system: the Lightning system that trains the network (``nasrl.training``).
        graph: architecture -> ``ArchitectureGraph`` (``nasrl.draw``); figure: graph -> Figure.
        controller_lr: the paper's Adam learning rate for the controller searching this kind
            (Sec. 4.1: 6e-4 for CNNs; Sec. 4.2: 5e-4 for cells).
        summary: the module that describes an architecture for ``nasrl describe`` and ``nasrl show``
            (``nasrl.models``: ``summarize``, ``facts_and_rows``, ``brief``, ``grown_depth``).
    """

    name: str
    description: str
    space: str
    data: str | None = None
    metric: str | None = None
    higher_is_better: bool = True
    reward: str | None = None
    network: str | None = None
    system: str | None = None
    graph: str | None = None
    figure: str | None = None
    summary: str | None = None
    controller_lr: float = 6e-4

    @property
    def trainable(self) -> bool:
        """Whether its children are networks to train (not rows of a table)."""
        return self.network is not None


KINDS: dict[str, SpaceKind] = {kind.name: kind for kind in (
    SpaceKind(
        "cnn", "a convolutional network for images (Sec. 3.1-3.3)",
        space="nasrl.spaces.cnn:CnnSpace", data="image", metric="val_acc", higher_is_better=True,
        reward="accuracy", network="nasrl.models.cnn:CnnChild", system="nasrl.training.image_system:ImageClassifier",
        graph="nasrl.draw.cnn:cnn_graph", figure="nasrl.draw.render:draw_cnn",
        summary="nasrl.models.describe_cnn", controller_lr=6e-4),
    SpaceKind(
        "rnn_cell", "a recurrent cell for language models (Sec. 3.4)",
        space="nasrl.spaces.rnn_cell:RnnCellSpace", data="text", metric="val_ppl", higher_is_better=False,
        reward="perplexity", network="nasrl.models.language_model:CellLanguageModel",
        system="nasrl.training.lm_system:LanguageModelSystem", graph="nasrl.draw.cell:cell_graph",
        figure="nasrl.draw.render:draw_cell", summary="nasrl.models.describe_cell", controller_lr=5e-4),
    SpaceKind(
        "tabular", "a row of a results table (surrogate children, looked up instead of trained)",
        space="nasrl.spaces.tabular:TabularSpace",
        controller_lr=6e-4),  # the shipped table (NAS-Bench-Macro) holds CNNs: the CNN search's rate
)}

# The kinds whose children are networks, and the data each reads.
TRAINABLE = tuple(name for name, kind in KINDS.items() if kind.trainable)
SPACE_DATA_KINDS = {name: KINDS[name].data for name in TRAINABLE}


def kind_named(arch: Any) -> SpaceKind | None:
    """The kind an architecture value names in its ``space`` key; None for anything else (a
    malformed value included: callers that only describe or draw a run skip what they cannot)."""
    name = arch.get("space") if isinstance(arch, dict) else None
    return KINDS.get(name) if isinstance(name, str) else None


def space_kind(name: Any, what: str = "architecture.space", trainable: bool = False) -> SpaceKind:
    """The kind called ``name``; ArchitectureError in one line naming ``what`` and the kinds allowed.

    ``trainable``: only a kind whose children are networks will do.
    """
    allowed = TRAINABLE if trainable else tuple(KINDS)
    if not isinstance(name, str) or name not in allowed:
        known = isinstance(name, str) and name in KINDS
        reason = f"is {KINDS[name].description}, with no network to train or draw" if known else "is not a space kind"
        raise ArchitectureError(f"{what}: {name!r} {reason}; expected one of {sorted(allowed)}")
    return KINDS[name]


def kind_of(arch: Any, trainable: bool = False) -> SpaceKind:
    """The kind of an architecture value (its ``space`` key); ArchitectureError in one line otherwise."""
    name = arch.get("space") if isinstance(arch, dict) else type(arch).__name__
    return space_kind(name, trainable=trainable)


def higher_is_better(metric: str) -> bool:
    """The direction of a child's metric: a kind's validation metric goes its kind's way; any
    other (a surrogate table's reward column) is a reward, better when higher."""
    return next((kind.higher_is_better for kind in KINDS.values() if kind.metric == metric), True)


def load(reference: str) -> Any:
    """The object a ``"module:attribute"`` reference names (imported now), or the module itself."""
    module, _, attribute = reference.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded
