"""A text folder in Penn Treebank's format: ``train.txt``, ``valid.txt``, ``test.txt``.

One sentence per line, tokens separated by spaces, rare words already written as ``<unk>``;
each line end becomes ``<eos>`` (data/ptb.py reads these files as it reads ``ptb.*.txt``). At
``level: char`` the files are written as ``ptb.char.*.txt`` are: characters separated by
spaces, ``_`` between words; the level only changes the reported metric (bits per character).
The vocabulary is the training file's; a validation or test token outside it is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasrl.own_data.errors import DataError

TEXT_FILES = {"train": "train.txt", "valid": "valid.txt", "test": "test.txt"}
EOS = "<eos>"
BYTES_PER_FILE_BYTE = 10  # the token lists built while reading, before they become id tensors
FORMAT = "one sentence per line, tokens separated by spaces (Penn Treebank's ptb.*.txt format)"


def text_paths(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; expected a folder with train.txt, valid.txt, test.txt: {FORMAT}")
    paths = {split: root / name for split, name in TEXT_FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise DataError(f"{path}: missing; expected train.txt, valid.txt and test.txt in {root}: {FORMAT}")
    return paths


def scan(spec: dict[str, Any], seed: int = 0, load: bool = True) -> dict[str, Any]:
    """Token counts and vocabulary of a text folder; DataError for a token outside train.txt's vocabulary."""
    from nasrl.own_data.memory import check_fits

    root = Path(spec["path"]).expanduser()
    paths = text_paths(root)
    check_fits(sum(p.stat().st_size for p in paths.values()) * BYTES_PER_FILE_BYTE, root, "token lists")
    vocab: set[str] = {EOS}
    counts = {}
    for split, path in paths.items():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot be read as UTF-8 text ({err}); expected {FORMAT}") from None
        counts[split] = 0
        for number, line in enumerate(lines, 1):
            tokens = line.split()
            counts[split] += len(tokens) + 1
            if split == "train":
                vocab.update(tokens)
                continue
            unknown = next((t for t in tokens if t not in vocab), None)
            if unknown is not None:
                raise DataError(f"{path}:{number}: token {unknown!r} is not in train.txt; expected every token of "
                                "valid.txt and test.txt in train.txt (write rare words as <unk> in every file)")
        if split == "train" and not lines:
            raise DataError(f"{path}: empty; expected {FORMAT}")
    return {"root": root, "files": list(paths.values()), "vocab_size": len(vocab), "tokens": counts,
            "memory": sum(counts.values()) * 8}
