"""A dataset given as code: ``{type: module, target: "package.module:Class", args: {...}}``.

The class must be a ``LightningDataModule`` whose loaders yield ``(x, y)`` batches, built as
``Class(**args)``. After ``prepare_data()`` and ``setup("fit")`` it exposes what the space needs:

- for a CNN space (image data): ``num_classes``, ``in_channels`` and ``image_size`` (the side of
  its square images, in pixels), and x batches shaped ``[B, C, H, W]``, y class ids ``[B]``;
- for a recurrent cell space (text): ``vocab_size``, and x, y token ids ``[B, T]`` (y: x's next
  tokens), served in order, as data/text.py's ``BpttWindows`` are.

The module is imported with the working directory of the run first on the import path, so a
file beside the config works without installing it. Its kind (image or text) is read from these
attributes (``vocab_size``: text). The content hash covers the module's source file and the
args: data the module reads by itself is not hashed, so name a version of it in ``args``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

from nasrl.own_data.errors import DataError

IMAGE_ATTRIBUTES = ("num_classes", "in_channels", "image_size")


def load_class(target: str) -> type:
    """The class ``target`` names; DataError when it does not import or is no LightningDataModule."""
    import pytorch_lightning as pl

    module_name, _, name = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any failure of the user's module: report it in one line
        raise DataError(f"child.dataset.target: {target!r}: module {module_name!r} does not import "
                        f"({type(err).__name__}: {' '.join(str(err).split())}); expected an importable "
                        "package.module:Class") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, pl.LightningDataModule)):
        raise DataError(f"child.dataset.target: {target!r}: {module_name}.{name} is "
                        f"{'missing' if cls is None else type(cls).__name__}; expected a LightningDataModule class "
                        f"(in {getattr(module, '__file__', module_name)})")
    return cls


def build(spec: dict[str, Any]):
    """The data module, built with its args (not set up)."""
    cls = load_class(spec["target"])
    try:
        return cls(**spec["args"])
    except Exception as err:
        raise DataError(f"child.dataset.args: {spec['target']} cannot be built with {spec['args']} "
                        f"({type(err).__name__}: {' '.join(str(err).split())})") from None


def scan(spec: dict[str, Any], seed: int = 0, load: bool = True) -> dict[str, Any]:
    """The module's kind and sizes, read from its attributes after ``prepare_data`` and ``setup``."""
    module = build(spec)
    try:
        module.prepare_data()
        module.setup("fit")
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"child.dataset.target: {spec['target']}: setup failed "
                        f"({type(err).__name__}: {' '.join(str(err).split())})") from None
    source = Path(inspect.getsourcefile(type(module)) or spec["target"])
    found: dict[str, Any] = {"root": source.parent, "files": [source] if source.is_file() else [],
                             "extra": json.dumps(spec["args"], sort_keys=True), "module": module}
    if getattr(module, "vocab_size", None) is not None:
        return {**found, "vocab_size": _positive(spec, "vocab_size", module.vocab_size)}
    missing = [name for name in IMAGE_ATTRIBUTES if getattr(module, name, None) is None]
    if missing:
        raise DataError(f"child.dataset.target: {spec['target']} has no {missing[0]}; expected num_classes, "
                        "in_channels and image_size (image data), or vocab_size (text)")
    side = _positive(spec, "image_size", module.image_size)
    return {**found, "classes": _positive(spec, "num_classes", module.num_classes),
            "shape": (_positive(spec, "in_channels", module.in_channels), side, side)}


def _positive(spec: dict[str, Any], name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"child.dataset.target: {spec['target']}.{name} is {value!r}; expected an integer >= 1")
    return value
