"""Helpers of the data tests: CIFAR-10 batches in the official pickle format and tiny text
splits in Mikolov's PTB format."""

import pickle
import struct

import numpy as np

# Mikolov's files start each line with a space and end it with " \n".
TRAIN = [" the cat sat on the mat ", " a dog ran <unk> N times ", " the dog sat "] * 4
VALID = [" the cat ran ", " a dog sat on N "]
TEST = [" the mat sat on a cat "]


class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as the 2009 cPickle-written batches do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def write_official_batch(path, data, labels):
    """Pickle a batch like the originals: protocol 2, bytes keys, numpy 1.x module names."""
    batch = {b"batch_label": b"fake batch", b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [b"img_%d.png" % i for i in range(len(labels))]}
    with path.open("wb") as f:
        _Py2Pickler(f, protocol=2).dump(batch)
    raw = path.read_bytes().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    path.write_bytes(raw)


def fake_images(ids, offset=0):
    """uint8 [N, 3072]; image i has pixel (0, 0, 0) = its id so splits can be traced."""
    rng = np.random.default_rng(len(ids) + offset)
    data = rng.integers(0, 200, size=(len(ids), 3072), dtype=np.uint8) + offset
    data[:, 0] = ids
    return data.astype(np.uint8)
