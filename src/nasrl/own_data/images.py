"""An image folder as in-memory arrays: one subfolder per class of PNG or JPEG files.

    DIR/cat/001.png, DIR/dog/002.jpg ...            one folder: val and test cut from it
    DIR/train/cat/..., DIR/val/cat/..., DIR/test/...  given splits (a missing val/ or test/ is cut from train/)

Classes are the subfolder names in sorted order (label 0 is the first). Every image must have
the size of the first and be square (the children are sized for one side). Images are read with
Pillow: greyscale modes give one channel when every image is greyscale, anything else is
converted to RGB (an alpha channel is dropped). Other files (a README, .DS_Store) are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nasrl.own_data.errors import DataError
from nasrl.own_data.splits import split_indices

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
BYTES_PER_VALUE = 4 + 1  # the float32 tensors, plus the uint8 pixels while they are converted
EXPECTED = "one subfolder per class of PNG/JPEG files, or train/, val/, test/ folders holding such subfolders"


def class_files(folder: Path) -> dict[str, list[Path]]:
    """``{class: [image files]}`` of a folder's subfolders."""
    classes = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{sub}: no .png, .jpg or .jpeg files; expected {EXPECTED}")
        classes[sub.name] = files
    return classes


def find_images(root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The class names and ``{split: [(file, label)]}``; the split "all" when none is given."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; expected {EXPECTED}")
    given = {"train": class_files(root / "train")} if (root / "train").is_dir() else {"all": class_files(root)}
    classes = sorted(next(iter(given.values())))
    for name in ("val", "test"):
        if "train" in given and (root / name).is_dir():
            given[name] = class_files(root / name)
            extra = sorted(set(given[name]) - set(classes))
            if extra:
                raise DataError(f"{root / name / extra[0]}: class {extra[0]!r} has no folder in {root / 'train'}; "
                                f"expected the classes of train/: {classes}")
    if len(classes) < 2:
        raise DataError(f"{root}: {len(classes)} class folder {classes}; expected at least 2, {EXPECTED}")
    index = {name: i for i, name in enumerate(classes)}
    return classes, {split: [(f, index[c]) for c, files in folders.items() for f in files]
                     for split, folders in given.items()}


def read_headers(files: list[Path]) -> tuple[int, int]:
    """(channels, side) from every file's header; DataError for an unreadable file or a size unlike the first."""
    from PIL import Image, UnidentifiedImageError

    first, size, grey = None, None, True
    for path in files:
        try:
            with Image.open(path) as image:
                this, mode = image.size, image.mode
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            raise DataError(f"{path}: cannot be read as an image ({err}); expected a PNG or JPEG file") from None
        if size is None:
            first, size = path, this
            if this[0] != this[1]:
                raise DataError(f"{path}: {this[0]}x{this[1]} pixels; expected square images (the children are "
                                "sized for one side): crop or pad them first")
        elif this != size:
            raise DataError(f"{path}: {this[0]}x{this[1]} pixels, but {first} has {size[0]}x{size[1]}; "
                            "expected images of one size: resize them first")
        grey = grey and mode in GREY_MODES
    return (1 if grey else 3), size[0]


def read_pixels(files: list[Path], channels: int, side: int) -> np.ndarray:
    """uint8 ``[N, C, H, W]`` of the files, decoded in full (a truncated file fails here)."""
    from PIL import Image

    out = np.empty((len(files), channels, side, side), dtype=np.uint8)
    mode = "L" if channels == 1 else "RGB"
    for i, path in enumerate(files):
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert(mode))
        except (OSError, ValueError, SyntaxError) as err:
            raise DataError(f"{path}: cannot be read as an image ({err}); expected a PNG or JPEG file") from None
        out[i] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return out


def scan(spec: dict[str, Any], seed: int = 0, load: bool = True) -> dict[str, Any]:
    """Classes, shape, split sizes, files and (``load``) the split arrays of an image folder.

    The memory check runs on the headers, before any pixel is decoded.
    """
    from nasrl.own_data.memory import check_fits

    root = Path(spec["path"]).expanduser()
    classes, given = find_images(root)
    files = [f for entries in given.values() for f, _ in entries]
    channels, side = read_headers(files)
    check_fits(len(files) * channels * side * side * BYTES_PER_VALUE, root, "float32 image tensors")
    pixels = read_pixels(files, channels, side) if load else None
    labels = np.array([label for entries in given.values() for _, label in entries], dtype=np.int64)
    offsets, start = {}, 0
    for split, entries in given.items():
        offsets[split] = np.arange(start, start + len(entries))
        start += len(entries)
    base = "all" if "all" in offsets else "train"
    cut = {name: spec[f"{name}_fraction"] for name in ("val", "test") if name not in offsets}
    if cut:
        picked = split_indices(labels[offsets[base]], cut, seed, root)
        offsets.update({name: offsets[base][index] for name, index in picked.items()})
    offsets.pop("all", None)
    splits = {name: (None if pixels is None else pixels[offsets[name]], labels[offsets[name]])
              for name in ("train", "val", "test")}
    return {"root": root, "files": files, "classes": classes, "shape": (channels, side, side), "splits": splits,
            "memory": len(files) * channels * side * side * 4}
