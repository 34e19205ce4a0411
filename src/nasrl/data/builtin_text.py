"""A built-in English corpus for offline language-model search (stand-in for PTB, docs/paper.md Sec. 7).

The recurrent-cell search (Sec. 7.1) needs a word-level corpus; PTB must be fetched by
hand, so smoke runs, tests and machines without network use this one instead.

Choice: ``pydoc_data.topics``, the text behind ``help("assert")`` and friends. It ships
with every CPython 3.11 (it is part of the standard library, so no project dependency
can remove it) and is about 465,000 characters of real English technical prose in 79
documents (the language reference and library topics). After the cleaning below it
gives ~354,000 characters in ~55,000 words of ~3,000 types: small next to PTB's 887k
training words, but enough for a perplexity that separates good cells from bad ones.
Rejected: scikit-learn's ``datasets/descr/*.rst`` (~43,000 characters, too small), and
module docstrings collected by import (they vary with what is installed).
The text changes slightly between Python patch releases, so ``fingerprint`` records it.

Normalisation, in the spirit of Mikolov's PTB preprocessing:

* documents are shuffled with ``seed``, then cut into paragraphs (blank lines) and
  sentences (after ``.``, ``!``, ``?`` not preceded by a digit); one sentence is one line, ending in ``<eos>``;
* paragraphs that are mostly symbols (grammar rules, doctest blocks: under 80% letters
  among non-space characters) are dropped, so the corpus stays prose;
* words are lowercased regex tokens ``[a-z]+('[a-z]+)*``; numbers become ``N`` as in PTB;
* the split is contiguous by sentences, 90/5/5 percent of the tokens, so validation and
  test are unbroken stretches of text (as PTB's sections are);
* word level keeps the ``vocab_size`` most frequent training words (``<unk>`` and
  ``<eos>`` included), all others become ``<unk>``; char level spells the cleaned words
  out with ``_`` between them, the ``ptb.char.*.txt`` convention.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter

import torch

from nasrl.data.errors import DataError
from nasrl.data.text import TextDataModule
from nasrl.data.vocab import EOS, UNK, Vocabulary, spell_chars, split_symbols

BUILTIN_CORPORA = ("pydoc_topics",)
SPLIT_FRACTIONS = (0.90, 0.05, 0.05)
MIN_LETTER_SHARE = 0.8  # below this a paragraph is code or grammar, not prose
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+(?:\.[0-9]+)?")
# A full stop after a digit is a list number ("1. Foo"), not the end of a sentence.
_SENTENCE_END = re.compile(r"(?<=[^0-9][.!?])\s+")


def load_documents(name: str) -> dict[str, str]:
    """The raw documents of a built-in corpus, keyed by title.

    Raises:
        DataError: unknown corpus, or the interpreter was installed without it.
    """
    if name != "pydoc_topics":
        raise DataError(f"unknown built-in corpus {name!r}; known: {', '.join(BUILTIN_CORPORA)}")
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:
        raise DataError("the standard-library module pydoc_data.topics is missing from this Python "
                        "installation (some distributions strip it); install the full standard library "
                        "or use the 'ptb' dataset") from exc
    return dict(topics)


def corpus_sentences(documents: list[str]) -> list[list[str]]:
    """Clean documents into sentences of PTB-style word tokens (see module docstring).

    Args:
        documents: raw texts, in the order they should appear in the stream.

    Returns:
        One list of words per sentence; empty sentences are left out.
    """
    sentences = []
    for doc in documents:
        for para in re.split(r"\n\s*\n", doc):
            visible = re.sub(r"\s", "", para)
            if not visible or sum(ch.isalpha() for ch in visible) < MIN_LETTER_SHARE * len(visible):
                continue
            for sentence in _SENTENCE_END.split(" ".join(para.split())):
                words = ["N" if w[0].isdigit() else w for w in _WORD.findall(sentence.lower())]
                if words:
                    sentences.append(words)
    return sentences


def split_contiguous(sentences: list[list[str]], fractions=SPLIT_FRACTIONS) -> dict[str, list[list[str]]]:
    """Cut a sentence list into train/valid/test runs holding ``fractions`` of the words."""
    total = sum(len(s) for s in sentences)
    bounds = (fractions[0] * total, (fractions[0] + fractions[1]) * total)
    splits: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}
    seen = 0
    for sentence in sentences:
        name = "train" if seen < bounds[0] else "valid" if seen < bounds[1] else "test"
        splits[name].append(sentence)
        seen += len(sentence)
    return splits


class BuiltinTextDataModule(TextDataModule):
    """A language-model corpus that ships with Python, read offline.

    Args:
        name: corpus name; only "pydoc_topics".
        level: "word" or "char".
        batch_size: rows per batch.
        bptt: steps per window.
        seed: shuffles the document order, hence which text lands in which split.
        vocab_size: word level only: token types kept, ``<unk>`` and ``<eos>`` included.
        eval_batch_size: rows per validation/test batch; defaults to ``batch_size``.
    """

    def __init__(self, name: str = "pydoc_topics", level: str = "word", batch_size: int = 20, bptt: int = 35,
                 seed: int = 0, vocab_size: int = 2000, eval_batch_size: int | None = None) -> None:
        super().__init__(batch_size=batch_size, bptt=bptt, eval_batch_size=eval_batch_size)
        if level not in ("word", "char"):
            raise ValueError(f"level must be 'word' or 'char', got {level!r}")
        if name not in BUILTIN_CORPORA:
            raise DataError(f"unknown built-in corpus {name!r}; known: {', '.join(BUILTIN_CORPORA)}")
        self.save_hyperparameters()
        self.name = name
        self.level = level
        self.seed = seed
        self.max_vocab = vocab_size
        self.fingerprint: str | None = None

    def load_streams(self) -> tuple[Vocabulary, dict[str, torch.Tensor]]:
        documents = load_documents(self.name)
        titles = sorted(documents)  # a fixed order before shuffling, whatever the dict order
        raw = "\n".join(f"{t}\n{documents[t]}" for t in titles)
        self.fingerprint = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
        random.Random(self.seed).shuffle(titles)
        splits = split_contiguous(corpus_sentences([documents[t] for t in titles]))
        if self.level == "word":
            tokens = {k: [tok for s in v for tok in split_symbols(" ".join(s))] for k, v in splits.items()}
            counts = Counter(tokens["train"])
            vocab = Vocabulary.from_counts(counts, max_size=self.max_vocab, specials=(UNK, EOS), unk=UNK)
        else:
            tokens = {k: [tok for s in v for tok in spell_chars(" ".join(s))] for k, v in splits.items()}
            # Every cleaned character occurs in training in practice; <unk> is a safety net.
            vocab = Vocabulary.from_counts(Counter(tokens["train"]), specials=(UNK, EOS), unk=UNK)
        streams = {k: vocab.encode(v, source=f"{self.name}/{k}") for k, v in tokens.items()}
        return vocab, streams
