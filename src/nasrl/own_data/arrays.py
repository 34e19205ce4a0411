"""Images and labels from a NumPy ``.npz`` file.

Arrays: ``x`` and ``y`` (val and test are cut from them, seeded and stratified), or
``x_train`` and ``y_train`` with ``x_val``/``y_val`` and ``x_test``/``y_test`` where given (a
missing pair is cut from the training arrays). ``y`` holds integer labels 0..C-1, C being
``num_classes`` or the largest label + 1. ``x`` is any numeric type, converted to float32:

- 3 axes: N, H, W (one channel);
- 4 axes, ``layout: auto``: N, C, H, W when axis 1 has 1, 3 or 4 entries and the last axis does
  not; N, H, W, C when the last axis has 1, 3 or 4 and axis 1 does not; otherwise (say
  ``[N, 3, 4, 4]``) the layout must be named: ``nchw`` or ``nhwc``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nasrl.own_data.errors import DataError
from nasrl.own_data.splits import split_indices

CHANNEL_COUNTS = (1, 3, 4)
NAMES = "x and y, or x_train and y_train (x_val, y_val, x_test, y_test optional)"


def headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{array: (shape, dtype)}`` of an .npz file, read without loading the arrays."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a NumPy .npz file with {NAMES}")
    found = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not name.endswith(".npy"):
                    continue
                with archive.open(name) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f)
                found[name[:-4]] = (shape, dtype)
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        raise DataError(f"{path}: not a readable .npz archive ({err}); expected a NumPy .npz file with {NAMES}") \
            from None
    return found


def pairs(path: Path, found: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """``{split: (x name, y name)}`` of the arrays the file gives."""
    if "x_train" in found or "y_train" in found:
        named = {split: (f"x_{split}", f"y_{split}") for split in ("train", "val", "test")}
        named = {split: names for split, names in named.items() if split == "train" or set(names) & set(found)}
    else:
        named = {"all": ("x", "y")}
    for x, y in named.values():
        for name in (x, y):
            if name not in found:
                raise DataError(f"{path}: no array {name!r} (it has {sorted(found)}); expected {NAMES}")
    return named


def channels_first(path: Path, shape: tuple[int, ...], layout: str) -> bool:
    if len(shape) == 3:
        return True
    if len(shape) != 4:
        raise DataError(f"{path}: x has shape {list(shape)}; expected N,H,W or N,C,H,W or N,H,W,C")
    if layout != "auto":
        return layout == "nchw"
    first, last = shape[1] in CHANNEL_COUNTS, shape[3] in CHANNEL_COUNTS
    if first != last:
        return first
    raise DataError(f"{path}: x has shape {list(shape)}, whose channels axis cannot be told; expected "
                    "child.dataset.layout: nchw or nhwc")


def image_shape(path: Path, shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
    if len(shape) == 3:
        c, h, w = 1, shape[1], shape[2]
    elif channels_first(path, shape, layout):
        c, h, w = shape[1:]
    else:
        h, w, c = shape[1:]
    if h != w:
        raise DataError(f"{path}: images of {h}x{w} pixels; expected square images (the children are sized for one side)")
    return c, h, w


def to_nchw(x: np.ndarray, first: bool) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    return x if first else x.transpose(0, 3, 1, 2)


def check_labels(path: Path, name: str, y: np.ndarray, n: int, num_classes: int | None) -> None:
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{path}: {name} has shape {list(y.shape)}; expected one label per image, shape [{n}]")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
        raise DataError(f"{path}: {name} has dtype {y.dtype}; expected integer class labels 0..C-1")
    low, high = (int(y.min()), int(y.max())) if len(y) else (0, 0)
    top = f"{num_classes - 1} (num_classes {num_classes})" if num_classes else "C-1"
    if low < 0 or (num_classes is not None and high >= num_classes):
        raise DataError(f"{path}: {name} holds {low if low < 0 else high}; expected class labels in 0..{top}")


def scan(spec: dict[str, Any], seed: int = 0, load: bool = True) -> dict[str, Any]:
    """Shape, classes, split sizes and (``load``) the split arrays of an .npz file."""
    from nasrl.own_data.memory import check_fits

    path = Path(spec["path"]).expanduser()
    found = headers(path)
    named = pairs(path, found)
    shapes = {split: found[x][0] for split, (x, _) in named.items()}
    shape = image_shape(path, next(iter(shapes.values())), spec["layout"])
    for split, (x, _) in named.items():
        if image_shape(path, shapes[split], spec["layout"]) != shape:
            raise DataError(f"{path}: {x} has shape {list(shapes[split])}, unlike {named[next(iter(named))][0]}; "
                            "expected images of one shape in every split")
    count = sum(s[0] for s in shapes.values())
    itemsize = max(found[x][1].itemsize for x, _ in named.values())
    check_fits(count * int(np.prod(shape)) * (4 + itemsize), path, "float32 image tensors")
    with np.load(path, allow_pickle=False) as data:
        labels = {split: data[y] for split, (_, y) in named.items()}
        for split, (x, y) in named.items():
            check_labels(path, y, labels[split], shapes[split][0], spec["num_classes"])
        pixels = {split: to_nchw(data[x], channels_first(path, shapes[split], spec["layout"]))
                  for split, (x, _) in named.items()} if load else {}
    num_classes = spec["num_classes"] or max(int(y.max()) for y in labels.values() if len(y)) + 1
    if num_classes < 2:
        raise DataError(f"{path}: every label is 0; expected at least 2 classes, labels 0..C-1")
    base = "all" if "all" in named else "train"
    cut = {name: spec[f"{name}_fraction"] for name in ("val", "test") if name not in named}
    splits = {split: (pixels.get(split), labels[split]) for split in named}
    if cut:
        picked = split_indices(labels[base], cut, seed, path)
        x_base = pixels.get(base)
        splits.update({name: (None if x_base is None else x_base[index], labels[base][index])
                       for name, index in picked.items()})
    splits.pop("all", None)
    return {"root": path, "files": [path], "classes": num_classes, "shape": shape, "splits": splits,
            "memory": count * int(np.prod(shape)) * 4}
