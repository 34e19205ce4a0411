"""``nasrl data``: check a dataset of one's own, or write the digits out as an image folder.

    nasrl data check CONFIG          split sizes, classes, shape, memory and digest, or one error line
    nasrl data export-digits DIR     scikit-learn's 8x8 digits as DIR/0/*.png ... DIR/9/*.png

``check`` reads what the workflow reads when it plans (nasrl.own_data), from a workflow config
(its ``child`` section; with a ``search`` section the data is also matched with the space) or a
file holding the child section alone. Relative paths are read from the working directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_check(args: argparse.Namespace) -> None:
    from nasrl.data_kinds import dataset_kind
    from nasrl.space_kinds import SPACE_DATA_KINDS
    from nasrl.own_data import inspect
    from nasrl.settings import ChildConfig, SearchSettings, read_yaml
    from nasrl.settings.plan_checks import check_own_data

    config = read_yaml(args.config)
    child = ChildConfig.from_dict(config.get("child", config) if "search" in config or "child" in config else config)
    if isinstance(child.dataset, str):
        print(f"source: {child.dataset} (a named dataset, {dataset_kind(child.dataset)} data): nothing to check here")
        return
    if "search" in config:
        space = SearchSettings.from_dict(config["search"]).build_space()
        facts = check_own_data(child, space.type, SPACE_DATA_KINDS.get(space.type, "image"))
    else:
        facts = inspect(child.dataset.model_dump(), child.seed)
    print("\n".join(facts.lines()))


def cmd_export_digits(args: argparse.Namespace) -> None:
    """Each digit image as an 8-bit greyscale PNG (pixel values 0..16 scaled to 0..255)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    out = Path(args.dir)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = out / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(image.reshape(8, 8) * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / f"{index:04d}.png")
    print(f"wrote {len(labels)} images in {len(set(labels))} class folders under {out}")


def add_data_command(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="check a dataset of one's own; write the digits out as an image folder")
    commands = data.add_subparsers(dest="data_command", required=True)
    check = commands.add_parser("check", help="read and check child.dataset: split sizes, classes, shape, memory")
    check.add_argument("config", type=Path, help="a workflow config (config/config.yaml) or a child section")
    check.set_defaults(func=cmd_check)
    export = commands.add_parser("export-digits", help="scikit-learn's 8x8 digits as one PNG folder per class")
    export.add_argument("dir", type=Path, help="the folder to write (created)")
    export.set_defaults(func=cmd_export_digits)
