"""Penn Treebank in Mikolov's preprocessed format (docs/paper.md Sec. 7.1-7.4).

The NAS paper's language-model search and Table 2 use word-level PTB (10k words,
Mikolov et al.'s split); Table 3 uses the character-level version. Nothing is
downloaded at run time; both live in Mikolov's ``simple-examples.tgz``
(http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz), folder ``data/``:

* word level: ``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt``: one sentence per
  line, lowercased words separated by spaces, rare words already ``<unk>``, numbers ``N``;
* char level: ``ptb.char.train.txt``, ``ptb.char.valid.txt``, ``ptb.char.test.txt``: the
  same sentences as single characters separated by spaces, ``_`` between words.

Each line end becomes ``<eos>``. The vocabulary comes from the training file alone
(10,000 word types including ``<eos>``); a validation or test token outside it means
the files do not belong together, so it is an error rather than a silent ``<unk>``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from nasrl.data.errors import DataError
from nasrl.data.text import TEXT_SPLITS, TextDataModule
from nasrl.data.vocab import Vocabulary, split_symbols

PTB_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
PTB_FILES = {
    "word": {split: f"ptb.{split}.txt" for split in TEXT_SPLITS},
    "char": {split: f"ptb.char.{split}.txt" for split in TEXT_SPLITS},
}


def ptb_paths(data_dir: str | Path | None, level: str) -> dict[str, Path]:
    """The three PTB files for ``level``, checked to exist.

    Args:
        data_dir: folder holding the files (``simple-examples/data`` of the archive).
        level: "word" or "char".

    Returns:
        ``{"train"|"valid"|"test": path}``.

    Raises:
        DataError: no ``data_dir``, or a file is missing, with instructions to get the data.
    """
    if level not in PTB_FILES:
        raise ValueError(f"level must be 'word' or 'char', got {level!r}")
    names = PTB_FILES[level]
    how = f"download {PTB_URL} and point data_dir at its simple-examples/data folder"
    if data_dir is None:
        raise DataError(f"Penn Treebank needs data_dir, a folder with {', '.join(names.values())}; {how}")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"Penn Treebank folder {root} does not exist: expected "
                        f"{', '.join(names.values())} there; {how}")
    paths = {split: root / name for split, name in names.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DataError(f"Penn Treebank file(s) missing: {', '.join(missing)}; {how}")
    return paths


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, with a DataError naming the file if it cannot be decoded."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as UTF-8 text ({exc})") from exc


class PtbDataModule(TextDataModule):
    """Word- or character-level Penn Treebank as ordered BPTT windows.

    Args:
        data_dir: folder with the ``ptb.*.txt`` (and/or ``ptb.char.*.txt``) files.
        level: "word" (Sec. 7.1-7.3) or "char" (Sec. 7.4).
        batch_size: rows per batch; 20 as in Zaremba et al. (2014) (the paper's char model used 32).
        bptt: steps per window; 35 as in Zaremba et al. (the paper's char model used 100).
        eval_batch_size: rows per validation/test batch; defaults to ``batch_size``.
    """

    def __init__(self, data_dir: str | Path | None, level: str = "word", batch_size: int = 20, bptt: int = 35,
                 eval_batch_size: int | None = None) -> None:
        super().__init__(batch_size=batch_size, bptt=bptt, eval_batch_size=eval_batch_size)
        if level not in PTB_FILES:
            raise ValueError(f"level must be 'word' or 'char', got {level!r}")
        self.save_hyperparameters()
        self.data_dir = data_dir
        self.level = level

    def prepare_data(self) -> None:
        """Fail fast, before training starts, if a file is missing."""
        ptb_paths(self.data_dir, self.level)

    def load_streams(self) -> tuple[Vocabulary, dict[str, torch.Tensor]]:
        paths = ptb_paths(self.data_dir, self.level)
        tokens = {}
        for split, path in paths.items():
            tokens[split] = [tok for line in read_lines(path) for tok in split_symbols(line)]
        if not tokens["train"]:
            raise DataError(f"{paths['train']} is empty")
        # No unk token: PTB's own <unk> is an ordinary word here, and any token the
        # training file lacks is reported by encode() with the file it came from.
        vocab = Vocabulary.from_counts(Counter(tokens["train"]))
        streams = {split: vocab.encode(toks, source=str(paths[split])) for split, toks in tokens.items()}
        return vocab, streams
