"""Text data modules: tiny PTB files in Mikolov's format, BPTT batching, the built-in corpus."""

from collections import Counter

import pytest
import torch

from nasrl.data import (DATASET_KINDS, EOS, UNK, BpttWindows, BuiltinTextDataModule, DataError, PtbDataModule,
                        TextDataModule, Vocabulary, batchify, make_datamodule)
from nasrl.data.vocab import spell_chars, split_symbols
from data_helpers import TEST, TRAIN, VALID


@pytest.fixture
def ptb_dir(tmp_path):
    for split, lines in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        (tmp_path / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")
        chars = [" " + " ".join("_".join(line.split())) + " " for line in lines]
        (tmp_path / f"ptb.char.{split}.txt").write_text("\n".join(chars) + "\n")
    return tmp_path


def test_char_fixture_matches_mikolov_format(ptb_dir):
    first = (ptb_dir / "ptb.char.train.txt").read_text().splitlines()[0]
    assert first == " t h e _ c a t _ s a t _ o n _ t h e _ m a t "
    assert split_symbols(first)[:5] == ["t", "h", "e", "_", "c"] and split_symbols(first)[-1] == EOS


def test_word_vocabulary_and_stream(ptb_dir):
    dm = PtbDataModule(ptb_dir, batch_size=2, bptt=3)
    dm.setup()
    counts = Counter(tok for line in TRAIN for tok in line.split() + [EOS])
    assert dm.vocab_size == len(counts) and EOS in dm.vocab and "<unk>" in dm.vocab
    assert dm.vocab.itos[0] == EOS  # most frequent first: one per line
    assert dm.vocab.decode(dm.streams["valid"]) == "the cat ran <eos> a dog sat on N <eos>".split()
    assert dm.num_tokens("train") == sum(counts.values())


def test_char_level_reads_symbols(ptb_dir):
    dm = PtbDataModule(ptb_dir, level="char", batch_size=2, bptt=5)
    dm.setup()
    assert "_" in dm.vocab and EOS in dm.vocab and all(len(t) == 1 for t in dm.vocab.itos if t != EOS)
    assert dm.vocab.decode(dm.streams["test"]) == list("the_mat_sat_on_a_cat") + [EOS]


def test_batchify_rows_are_contiguous_and_drop_the_remainder():
    rows = batchify(torch.arange(23), 4)
    assert rows.shape == (4, 5)
    assert rows[1].tolist() == [5, 6, 7, 8, 9] and rows.flatten().tolist() == list(range(20))


def test_bptt_windows_are_shifted_and_consecutive():
    rows = batchify(torch.arange(40), 2)  # [2, 20]
    windows = BpttWindows(rows, bptt=6)
    assert len(windows) == 4  # 19 predicted positions: 6 + 6 + 6 + 1
    xs, ys = zip(*[windows[k] for k in range(len(windows))])
    assert [x.shape[1] for x in xs] == [6, 6, 6, 1]
    for x, y in zip(xs, ys):
        assert x.dtype == y.dtype == torch.long and torch.equal(y, x + 1)  # y is x shifted by one
    for prev_y, next_x in zip(ys, xs[1:]):
        assert torch.equal(next_x[:, 0], prev_y[:, -1])  # the next window continues this one
    assert torch.equal(torch.cat(xs, dim=1), rows[:, :-1]) and torch.equal(torch.cat(ys, dim=1), rows[:, 1:])
    with pytest.raises(IndexError):
        windows[4]


def test_dataloader_yields_ordered_windows(ptb_dir):
    dm = PtbDataModule(ptb_dir, batch_size=2, bptt=4)
    dm.setup()
    rows = batchify(dm.streams["train"], 2)
    batches = list(dm.train_dataloader())
    assert all(x.shape[0] == 2 and x.shape[1] <= 4 for x, _ in batches)
    assert batches[0][0].shape == (2, 4) and batches[0][0].dtype == torch.long
    assert torch.equal(torch.cat([x for x, _ in batches], dim=1), rows[:, :-1])
    assert torch.equal(torch.cat([y for _, y in batches], dim=1), rows[:, 1:])
    assert [torch.equal(a[0], b[0]) for a, b in zip(batches, list(dm.train_dataloader()))] == [True] * len(batches)


def test_text_module_from_given_streams():
    vocab = Vocabulary(["a", "b", EOS])
    streams = {s: vocab.encode(["a", "b", EOS] * 5) for s in ("train", "valid", "test")}
    dm = TextDataModule(vocab, streams, batch_size=3, bptt=2)
    assert dm.vocab_size == 3
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (3, 2) and torch.equal(x[0], torch.tensor([0, 1]))


def test_vocabulary_cap_keeps_specials_and_maps_rare_words_to_unk():
    counts = Counter({"the": 5, "a": 4, "cat": 2, "dog": 2, "emu": 1, EOS: 3})
    vocab = Vocabulary.from_counts(counts, max_size=4, specials=(UNK, EOS), unk=UNK)
    assert vocab.itos == ["the", "a", EOS, UNK]  # ordered by count; <unk> never occurred so goes last
    assert vocab.decode(vocab.encode(["the", "emu", "cat"])) == ["the", UNK, UNK]
    with pytest.raises(DataError, match="'emu'.*training vocabulary"):
        Vocabulary(["the"]).encode(["emu"], source="somewhere.txt")
    assert spell_chars("a  big\tcat") == ["a", "_", "b", "i", "g", "_", "c", "a", "t", EOS]


def test_out_of_vocabulary_token_names_file_and_token(ptb_dir):
    (ptb_dir / "ptb.valid.txt").write_text(" the zebra sat \n")
    with pytest.raises(DataError) as err:
        PtbDataModule(ptb_dir).setup()
    assert str(ptb_dir / "ptb.valid.txt") in str(err.value) and "'zebra'" in str(err.value)


def test_missing_directory_and_files(tmp_path, ptb_dir):
    with pytest.raises(DataError, match="simple-examples") as err:
        PtbDataModule(tmp_path / "absent").setup()
    assert str(tmp_path / "absent") in str(err.value)
    (ptb_dir / "ptb.char.test.txt").unlink()
    with pytest.raises(DataError, match="ptb.char.test.txt"):
        PtbDataModule(ptb_dir, level="char").prepare_data()
    PtbDataModule(ptb_dir, level="word").prepare_data()  # the word files are all there
    with pytest.raises(DataError, match="data_dir"):
        make_datamodule("ptb")
    (ptb_dir / "ptb.train.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(DataError, match="ptb.train.txt"):
        PtbDataModule(ptb_dir).setup()


def test_builtin_corpus_loads_offline_with_capped_vocabulary():
    dm = BuiltinTextDataModule(batch_size=4, bptt=10, vocab_size=500)
    assert dm.vocab_size == 500 and UNK in dm.vocab and EOS in dm.vocab
    sizes = {s: dm.num_tokens(s) for s in ("train", "valid", "test")}
    total = sum(sizes.values())
    assert total > 50_000 and abs(sizes["valid"] / total - 0.05) < 0.01 and abs(sizes["test"] / total - 0.05) < 0.01
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 10) and torch.equal(x[:, 1:], y[:, :-1])
    assert len(dm.fingerprint) == 16
    words = dm.vocab.decode(dm.streams["train"][:2000])
    assert {"the", "of", "is"} <= set(words) and all(w == w.lower() or w == "N" for w in words)


def test_builtin_split_depends_on_seed():
    def valid_stream(seed, level="word"):
        dm = BuiltinTextDataModule(seed=seed, level=level)
        dm.setup()
        return dm.streams["valid"]

    assert torch.equal(valid_stream(0), valid_stream(0))
    assert not torch.equal(valid_stream(0)[:100], valid_stream(1)[:100])
    chars = BuiltinTextDataModule(level="char")
    assert chars.vocab_size < 60 and "_" in chars.vocab and "e" in chars.vocab


def test_registry_text_names(ptb_dir):
    assert make_datamodule("ptb", ptb_dir).level == "word"
    assert make_datamodule("ptb_char", ptb_dir).level == "char"
    assert make_datamodule("pydoc_topics_char", bptt=5).level == "char"
    assert DATASET_KINDS["ptb"] == DATASET_KINDS["pydoc_topics"] == "text"
    with pytest.raises(DataError, match="known: .*ptb"):
        make_datamodule("wikitext")
