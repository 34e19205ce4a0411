"""The CNN search space of Zoph & Le (2017), Sec. 3.1-3.2 and 4.1.

Per layer the controller emits filter height, filter width, [stride height, stride width],
number of filters (Fig. 2), then the layer's anchor point (Fig. 4), which picks with one
sigmoid per candidate the earlier layers whose outputs are concatenated into this layer.
Decisions with a single choice (strides in the v1 space) are fixed, not emitted.

Architecture value::

    {"space": "cnn",
     "layers": [{"filter_height": 3, "filter_width": 3, "stride_height": 1, "stride_width": 1,
                 "num_filters": 36, "inputs": []}, ...],
     "max_pool_after": []}

Layers are numbered from 0. ``inputs`` lists the earlier layers feeding a layer, sorted;
an empty list means the layer reads the image (paper compile rule 1). ``max_pool_after``
lists layers followed by a fixed 2x2/2 max pooling (the v3 net, Sec. 4.1); its positions
come from the space spec, not from the controller.

With ``always_connect_previous`` (default) layer i always reads layer i-1 and its anchor
chooses among layers 0..i-2, the reading under which the discovered 15-layer network of
Fig. 7 has its 4.2M weights (docs/paper.md Sec. 2.2 and 4; ENAS macro search does the same).
Without it the anchor chooses among all earlier layers 0..i-1.

Blocks (the v3 space, docs/paper.md Sec. 2.5): with ``block_convs: 3`` each controller layer
is a "fully connected block" of 3 conv layers, read DenseNet-style. The block's decisions
(filter height, width, strides, number of filters) are shared by its 3 convs; its anchor
picks earlier *blocks*. The block's input is the concatenation of the blocks it reads (the
image when it reads none); conv k of the block reads that input and the outputs of convs
0..k-1 of the block; the block's output is its last conv, which has seen all of them.
The architecture value lists the expanded conv layers (13 blocks -> 39 layers), so the
network builder needs no notion of blocks. Where a block reads the image, only its first conv
does (compile rule 1: a layer reads the image only when it reads nothing else).
``extra_filters`` adds a fixed number of filters to every conv (Table 1's "+40 filters per
layer" network); the controller still chooses among ``num_filters``.
"""

from __future__ import annotations

import copy
from typing import Any

from nasrl.architecture import ArchitectureError
from nasrl.spaces.base import (
    SearchSpace,
    check_choice_list,
    check_exact_fields,
    check_field,
    check_keys,
    choice_index,
)
from nasrl.spaces.steps import Action, Anchor, Categorical, Step

# Sec. 4.1: filter height/width in {1,3,5,7}, filters in {24,36,48,64}; strides fixed to 1
# in the v1 space ({1,2,3} when "predicting strides"); depth starts at 6 and grows by 2 every
# 1,600 sampled architectures (12,800 samples in all -> at most 20 layers).
DEFAULT_SPEC: dict[str, Any] = {
    "type": "cnn",
    "filter_heights": [1, 3, 5, 7],
    "filter_widths": [1, 3, 5, 7],
    "strides": [1],
    "num_filters": [24, 36, 48, 64],
    "skip_connections": True,
    "always_connect_previous": True,
    "max_pool_after": [],
    "block_convs": 1,  # conv layers per controller layer (3 in v3: a fully connected block)
    "extra_filters": 0,  # added to every conv's filter count (40 in Table 1's widened v3)
    "depth": {"start": 6, "step": 2, "every": 1600, "max": 20},  # in controller layers (blocks)
}
DEPTH_DEFAULTS = DEFAULT_SPEC["depth"]

# (architecture field, spec key, decision kind) in the order the controller emits them.
LAYER_DECISIONS = (
    ("filter_height", "filter_heights", "filter_height"),
    ("filter_width", "filter_widths", "filter_width"),
    ("stride_height", "strides", "stride_height"),
    ("stride_width", "strides", "stride_width"),
    ("num_filters", "num_filters", "num_filters"),
)
LAYER_FIELDS = {field for field, _, _ in LAYER_DECISIONS} | {"inputs"}


class CnnSpace(SearchSpace):
    type = "cnn"

    @classmethod
    def brief(cls, arch: dict[str, Any]) -> str:
        layers = arch["layers"]
        skips = sum(len([j for j in layer["inputs"] if j != i - 1]) for i, layer in enumerate(layers))
        return (f"{len(layers)} layers, {sum(layer['num_filters'] for layer in layers)} filters, "
                f"{skips} {'skip' if skips == 1 else 'skips'}")

    @classmethod
    def grown_depth(cls, arch: dict[str, Any]) -> int:
        return len(arch["layers"])

    @classmethod
    def smallest_containing(cls, arch: dict[str, Any]) -> CnnSpace:
        """The default space, each layer decision's choices widened by the values ``arch`` uses
        (a 64-filter layer in a space without 64), its depth and pools as ``arch`` has them."""
        layers = arch.get("layers")
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            raise ArchitectureError("architecture.layers: expected a list of layer objects")
        spec: dict[str, Any] = {"type": "cnn", "depth": {"start": 1, "step": 0, "every": 1, "max": None},
                                "max_pool_after": arch.get("max_pool_after", [])}
        for field, key, _ in LAYER_DECISIONS:
            used = {layer.get(field) for layer in layers if isinstance(layer.get(field), int)}
            spec[key] = sorted(set(spec.get(key, DEFAULT_SPEC[key])) | used)  # both strides share one key
        # inputs that are not a list are reported by the space's validation, with the layer they belong to
        spec["always_connect_previous"] = all(isinstance(layer.get("inputs"), list) and i - 1 in layer["inputs"]
                                              for i, layer in enumerate(layers) if i)
        return cls(spec)

    def __init__(self, spec: dict[str, Any]):
        spec = check_keys(spec, DEFAULT_SPEC, "cnn space")
        for key in ("filter_heights", "filter_widths", "strides", "num_filters"):
            values = check_choice_list(spec[key], f"cnn space.{key}")
            if any(v < 1 for v in values):
                raise ArchitectureError(f"cnn space.{key}: values must be >= 1, got {values}")
        for key in ("skip_connections", "always_connect_previous"):
            if not isinstance(spec[key], bool):
                raise ArchitectureError(f"cnn space.{key}: expected true or false, got {spec[key]!r}")
        depth = check_keys(spec["depth"], DEPTH_DEFAULTS, "cnn space.depth")
        for key in ("start", "step", "every"):
            if not isinstance(depth[key], int) or depth[key] < (1 if key != "step" else 0):
                raise ArchitectureError(f"cnn space.depth.{key}: expected a positive integer, got {depth[key]!r}")
        if depth["max"] is not None and (not isinstance(depth["max"], int) or depth["max"] < depth["start"]):
            raise ArchitectureError(f"cnn space.depth.max: expected null or an integer >= start, got {depth['max']!r}")
        pools = spec["max_pool_after"]
        if not isinstance(pools, list) or any(not isinstance(p, int) or p < 0 for p in pools):
            raise ArchitectureError(f"cnn space.max_pool_after: expected a list of layer indices >= 0, got {pools!r}")
        for key, least in (("block_convs", 1), ("extra_filters", 0)):
            value = spec[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ArchitectureError(f"cnn space.{key}: expected an integer >= {least}, got {value!r}")
        spec = {**spec, "depth": depth, "max_pool_after": sorted(set(pools))}
        if not spec["skip_connections"] and all(len(spec[key]) == 1 for _, key, _ in LAYER_DECISIONS):
            raise ArchitectureError("cnn space: nothing to decide (every choice list has one value and no skips)")
        super().__init__(spec)

    # --- controller view ------------------------------------------------------------------

    def decision_kinds(self) -> dict[str, int]:
        return {kind: len(self.spec[key]) for _, key, kind in LAYER_DECISIONS if len(self.spec[key]) > 1}

    def depth_at(self, samples_seen: int) -> int:
        """Number of layers of the next architecture (Sec. 4.1 depth schedule)."""
        d = self.spec["depth"]
        depth = d["start"] + d["step"] * (samples_seen // d["every"])
        return depth if d["max"] is None else min(depth, d["max"])

    def steps(self, samples_seen: int = 0) -> list[Step]:
        return self.steps_for_depth(self.depth_at(samples_seen))

    def steps_for_depth(self, depth: int) -> list[Step]:
        """The steps of ``depth`` controller layers (blocks when ``block_convs`` > 1)."""
        steps: list[Step] = []
        for i in range(depth):
            for _, key, kind in LAYER_DECISIONS:
                if len(self.spec[key]) > 1:
                    steps.append(Categorical(f"{self._unit}_{i}.{kind}", kind, self._choices(key)))
            if self.spec["skip_connections"]:
                steps.append(Anchor(f"{self._unit}_{i}.anchor", i, self._candidates(i)))
        return steps

    @property
    def _unit(self) -> str:
        """What one controller layer builds: a conv layer, or a block of convs."""
        return "layer" if self.spec["block_convs"] == 1 else "block"

    def _choices(self, key: str) -> tuple[int, ...]:
        """The values a decision can give a conv (filter counts widened by ``extra_filters``)."""
        extra = self.spec["extra_filters"] if key == "num_filters" else 0
        return tuple(v + extra for v in self.spec[key])

    def _last_conv(self, block: int) -> int:
        """Index of a block's output conv in the architecture's layer list."""
        return (block + 1) * self.spec["block_convs"] - 1

    def _candidates(self, layer: int) -> tuple[int, ...]:
        last = layer - 1 if self.spec["always_connect_previous"] else layer
        return tuple(range(max(last, 0)))

    # --- decisions <-> architecture ---------------------------------------------------------

    def decode(self, steps: list[Step], actions: list[Action]) -> dict[str, Any]:
        chosen = {step.name: (step, action) for step, action in zip(steps, actions)}
        depth = len({name.split(".")[0] for name in chosen})  # every layer has a step (checked in __init__)
        size = self.spec["block_convs"]
        layers = []
        for i in range(depth):
            shape: dict[str, Any] = {}
            for field, key, kind in LAYER_DECISIONS:
                hit = chosen.get(f"{self._unit}_{i}.{kind}")
                shape[field] = hit[0].choices[hit[1]] if hit else self._choices(key)[0]
            block_input = [self._last_conv(j) for j in self._inputs_from_anchor(i, chosen.get(f"{self._unit}_{i}.anchor"))]
            for k in range(size):  # conv k reads the block's input and the block's convs 0..k-1
                layers.append({**shape, "inputs": sorted(block_input + [i * size + m for m in range(k)])})
        return {"space": "cnn", "layers": layers, "max_pool_after": list(self.spec["max_pool_after"])}

    def _inputs_from_anchor(self, layer: int, hit: tuple[Step, Action] | None) -> list[int]:
        if not self.spec["skip_connections"]:
            return [layer - 1] if layer > 0 else []
        picked = [c for c, bit in zip(hit[0].candidates, hit[1]) if bit] if hit else []
        if self.spec["always_connect_previous"] and layer > 0:
            picked.append(layer - 1)
        return sorted(picked)

    def encode(self, arch: Any) -> tuple[list[Step], list[Action]]:
        check_exact_fields(arch, {"space", "layers", "max_pool_after"}, "architecture")
        if arch["space"] != "cnn":
            raise ArchitectureError(f"architecture.space: expected 'cnn', got {arch['space']!r}")
        layers = check_field(arch, "layers", "architecture")
        max_depth = self.spec["depth"]["max"]
        size = self.spec["block_convs"]
        if not isinstance(layers, list) or not layers:
            raise ArchitectureError("architecture.layers: expected a non-empty list of layers")
        if len(layers) % size:
            raise ArchitectureError(f"architecture.layers: {len(layers)} layers; this space builds blocks of "
                                    f"{size} convs, so expected a multiple of {size}")
        depth = len(layers) // size
        if max_depth is not None and depth > max_depth:
            blocks = "" if size == 1 else f" ({depth} blocks of {size})"
            allowed = f"{max_depth}" if size == 1 else f"{max_depth} blocks"
            raise ArchitectureError(f"architecture.layers: {len(layers)} layers{blocks}, the space allows at most {allowed}")
        if arch["max_pool_after"] != self.spec["max_pool_after"]:
            raise ArchitectureError(
                f"architecture.max_pool_after: {arch['max_pool_after']!r}, the space fixes {self.spec['max_pool_after']}"
            )
        for i, layer in enumerate(layers):
            check_exact_fields(layer, LAYER_FIELDS, f"architecture.layers[{i}]")
        steps = self.steps_for_depth(depth)
        by_name = {}
        for i in range(depth):
            first = i * size
            where = f"architecture.layers[{first}]"
            for field, key, kind in LAYER_DECISIONS:
                by_name[f"{self._unit}_{i}.{kind}"] = choice_index(layers[first][field], self._choices(key), f"{where}.{field}")
                for conv in range(first + 1, first + size):
                    if layers[conv][field] != layers[first][field]:
                        raise ArchitectureError(
                            f"architecture.layers[{conv}].{field}: {layers[conv][field]!r}, but the {size} convs of "
                            f"a block share its {field} ({layers[first][field]!r} at layers[{first}])")
            block_input = self._check_indices(layers[first]["inputs"], f"{where}.inputs")
            by_name[f"{self._unit}_{i}.anchor"] = self._anchor_action(i, self._blocks_read(block_input, where), f"{where}.inputs")
            for k in range(1, size):
                expected = sorted(block_input + [first + m for m in range(k)])
                if layers[first + k]["inputs"] != expected:
                    raise ArchitectureError(
                        f"architecture.layers[{first + k}].inputs: expected {expected} (the block's input, then its "
                        f"convs before this one), got {layers[first + k]['inputs']!r}")
        return steps, [by_name[step.name] for step in steps]

    @staticmethod
    def _check_indices(inputs: Any, where: str) -> list[int]:
        if not isinstance(inputs, list) or any(not isinstance(j, int) or isinstance(j, bool) for j in inputs):
            raise ArchitectureError(f"{where}: expected a list of layer indices, got {inputs!r}")
        if inputs != sorted(set(inputs)):
            raise ArchitectureError(f"{where}: expected sorted, distinct layer indices, got {inputs}")
        return inputs

    def _blocks_read(self, block_input: list[int], where: str) -> list[int]:
        """The blocks whose output convs make up a block's input (layer indices when blocks are 1 conv)."""
        size = self.spec["block_convs"]
        if size == 1:
            return block_input
        outputs = [j for j in block_input if j % size == size - 1]
        if outputs != block_input:
            raise ArchitectureError(
                f"{where}.inputs: a block's first conv reads only the output (last conv) of earlier blocks, "
                f"layers {size - 1}, {2 * size - 1}, ...; got {block_input}")
        return [j // size for j in block_input]

    def _anchor_action(self, layer: int, inputs: list[int], where: str) -> tuple[int, ...]:
        unit = self._unit  # "layer", or "block" (then ``layer`` and ``inputs`` count blocks)
        if any(j < 0 or j >= layer for j in inputs):
            raise ArchitectureError(f"{where}: {unit} {layer} can only read earlier {unit}s 0..{layer - 1}, got {inputs}")
        previous_required = layer > 0 and (self.spec["always_connect_previous"] or not self.spec["skip_connections"])
        if previous_required and layer - 1 not in inputs:
            raise ArchitectureError(f"{where}: {unit} {layer} must read {unit} {layer - 1} in this space, got {inputs}")
        if not self.spec["skip_connections"]:
            if inputs != ([layer - 1] if layer > 0 else []):
                raise ArchitectureError(f"{where}: this space has no skip connections, got {inputs}")
            return ()
        candidates = self._candidates(layer)
        return tuple(int(c in inputs) for c in candidates)


def widen(arch: Any, extra_filters: int) -> dict[str, Any]:
    """A copy of the CNN ``arch`` with ``extra_filters`` more filters in every conv layer.

    Table 1's "+40 filters per layer" network: the v3 space's best architecture retrained with
    40 more filters in every layer (7.1M -> 37.4M parameters), every connection and pooling
    unchanged. It belongs to the searched space with ``extra_filters`` raised by the same amount
    (preset ``cnn_v3_plus40`` for ``cnn_v3``), so ``final.architectures: [wide.json]`` retrains it
    (``nasrl widen``; config/ptb-char-transfer.yaml shows that mode).
    """
    if not isinstance(extra_filters, int) or isinstance(extra_filters, bool) or extra_filters < 1:
        raise ArchitectureError(f"--filters: expected a whole number of filters >= 1, got {extra_filters!r}")
    if not isinstance(arch, dict) or arch.get("space") != CnnSpace.type:
        space = arch.get("space") if isinstance(arch, dict) else type(arch).__name__
        raise ArchitectureError(f"widen: expected a CNN architecture (space 'cnn'), got {space!r}; "
                                "a recurrent cell has no filters to widen")
    layers = arch.get("layers")
    if not isinstance(layers, list) or not layers or not all(
            isinstance(layer, dict) and isinstance(layer.get("num_filters"), int) for layer in layers):
        raise ArchitectureError("widen: architecture.layers must be a non-empty list of layers with num_filters")
    wide = copy.deepcopy(arch)
    for layer in wide["layers"]:
        layer["num_filters"] += extra_filters
    return wide
