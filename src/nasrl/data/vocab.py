"""Token vocabularies and line tokenisers for the language-model data (docs/paper.md Sec. 7).

The PTB convention (Mikolov's ``simple-examples``, used by Zaremba et al. 2014 and by
the NAS paper's Table 2) treats the corpus as one token stream in which every line end
becomes an ``<eos>`` token, so the model also learns where sentences stop. Both PTB
files are already tokenised by spaces: words in ``ptb.*.txt``, single characters (with
``_`` marking word boundaries) in ``ptb.char.*.txt``; ``split_symbols`` reads both.
``spell_chars`` turns raw text into the same character convention.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from nasrl.data.errors import DataError

EOS = "<eos>"
UNK = "<unk>"
WORD_BOUNDARY = "_"  # Mikolov's char files write a space between words as "_"


def split_symbols(line: str) -> list[str]:
    """Tokens of one line of a space-tokenised file (PTB words or PTB chars), then ``<eos>``."""
    return line.split() + [EOS]


def spell_chars(line: str) -> list[str]:
    """Characters of one line of raw text, spaces written as ``_`` as in ``ptb.char.*.txt``, then ``<eos>``.

    Runs of whitespace count as one boundary, so re-wrapped text spells the same.
    """
    return [WORD_BOUNDARY if ch == " " else ch for ch in " ".join(line.split())] + [EOS]


class Vocabulary:
    """A fixed bijection between tokens and ids ``0..len-1``.

    Ids follow the order given, so a vocabulary built with ``from_counts`` puts the most
    frequent tokens first, as the common PTB readers do.

    Args:
        tokens: the tokens in id order; must be unique.
        unk: token that unknown tokens map to in ``encode``; ``None`` makes them an error.

    >>> Vocabulary(["<eos>", "a", "b"])
    Vocabulary(size=3, unk=None)
    """

    def __init__(self, tokens: Sequence[str], unk: str | None = None) -> None:
        self.itos = list(tokens)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary tokens must be unique")
        if unk is not None and unk not in self.stoi:
            raise ValueError(f"unk token {unk!r} is not in the vocabulary")
        self.unk = unk

    @classmethod
    def from_counts(cls, counts: Counter, max_size: int | None = None, specials: Sequence[str] = (),
                    unk: str | None = None) -> Vocabulary:
        """Build a vocabulary from token counts.

        Args:
            counts: token frequencies, usually from the training split only.
            max_size: keep at most this many tokens in all, specials included; the rest are
                left out (and become ``unk`` when encoding).
            specials: tokens always kept, whatever their count (e.g. ``<unk>``, ``<eos>``).
            unk: as in the constructor; must be among the kept tokens.

        Returns:
            The vocabulary, tokens ordered by descending count, ties broken alphabetically so
            the ids do not depend on the order the text was read in.
        """
        ranked = [tok for tok, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        if max_size is not None:
            if max_size < len(specials):
                raise ValueError(f"max_size={max_size} cannot hold the {len(specials)} special tokens")
            ordinary = [tok for tok in ranked if tok not in specials][:max_size - len(specials)]
            kept = set(ordinary) | set(specials)
            ranked = [tok for tok in ranked if tok in kept]
        # Specials that never occur (an <unk> nobody needed yet) go last.
        tokens = ranked + [s for s in specials if s not in counts]
        return cls(tokens, unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, unk={self.unk!r})"

    def encode(self, tokens: Iterable[str], source: str = "<tokens>") -> torch.Tensor:
        """Map tokens to an int64 id stream.

        Args:
            tokens: the tokens to encode.
            source: names where the tokens came from, for the error message.

        Returns:
            A 1-D LongTensor of ids.

        Raises:
            DataError: a token is not in the vocabulary and there is no ``unk`` token.
        """
        ids = []
        for tok in tokens:
            idx = self.stoi.get(tok)
            if idx is None:
                if self.unk is None:
                    raise DataError(f"{source}: token {tok!r} is not in the training vocabulary "
                                    f"({len(self)} tokens built from the training split)")
                idx = self.stoi[self.unk]
            ids.append(idx)
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens."""
        return [self.itos[int(i)] for i in ids]
