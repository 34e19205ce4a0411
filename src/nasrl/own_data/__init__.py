"""Data of one's own (``child.dataset`` as a mapping): read, checked and hashed without torch.

The workflow calls :func:`inspect` when it plans (settings/plan_checks.py), so a bad folder or
file stops the run with one line naming it before any child starts, and the content hash it
returns enters the child key. The data modules (nasrl.data.own) read the same files through the
same functions when a child trains. One module per ``type``: images.py (image_folder),
arrays.py (arrays), text.py (text), modules.py (module, which does import Lightning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nasrl.own_data import arrays, images, modules, text
from nasrl.own_data.digest import files_digest
from nasrl.own_data.errors import DataError
from nasrl.own_data.memory import gigabytes

READERS = {"image_folder": images, "arrays": arrays, "text": text, "module": modules}


@dataclass
class DataFacts:
    """What the plan knows about a dataset of one's own."""

    kind: str  # "image" or "text"
    source: str  # the folder, file or module read
    digest: str  # the content hash (digest.py)
    splits: dict[str, int] = field(default_factory=dict)  # examples (images) or tokens (text) per split
    classes: list[str] | int | None = None  # class names (a folder) or their number
    shape: tuple[int, int, int] | None = None  # C, H, W of an image
    vocab_size: int | None = None
    memory: int | None = None  # bytes of the tensors a child holds

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if isinstance(self.classes, list) else self.classes

    def lines(self) -> list[str]:
        """The summary ``nasrl data check`` prints."""
        out = [f"source: {self.source} ({self.kind} data)"]
        out.append("splits: " + ", ".join(f"{name} {size}" for name, size in self.splits.items())
                   + (" tokens" if self.kind == "text" else ""))
        if self.kind == "image":
            named = f": {', '.join(self.classes)}" if isinstance(self.classes, list) else ""
            out.append(f"classes: {self.num_classes}{named}")
            out.append("shape: {} x {} x {} (channels x height x width)".format(*self.shape))
        else:
            out.append(f"vocabulary: {self.vocab_size} tokens")
        if self.memory is not None:
            out.append(f"memory: {gigabytes(self.memory)} per child")
        out.append(f"digest: {self.digest}")
        return out


def inspect(spec: dict[str, Any], seed: int = 0) -> DataFacts:
    """Read and check the data ``spec`` names (a ``child.dataset`` mapping); DataError in one line."""
    # Images are decoded in full (a truncated file fails now, not in a child); arrays and text
    # are checked from their headers, labels and tokens.
    found = READERS[spec["type"]].scan(spec, seed, load=spec["type"] == "image_folder")
    digest = files_digest(found["root"], found["files"], found.get("extra", ""))
    if "vocab_size" in found:
        return DataFacts("text", str(found["root"] if spec["type"] == "text" else spec["target"]), digest,
                         splits=found.get("tokens", {}), vocab_size=found["vocab_size"], memory=found.get("memory"))
    splits = {name: len(labels) for name, (_, labels) in found.get("splits", {}).items()}
    return DataFacts("image", str(found["root"] if spec["type"] != "module" else spec["target"]), digest,
                     splits=splits, classes=found["classes"], shape=found["shape"], memory=found.get("memory"))


__all__ = ["DataError", "DataFacts", "inspect"]
