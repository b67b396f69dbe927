import numpy as np

from genrec_bench.data.split import leave_last_out
from genrec_bench.data.types import SequenceDataset, Sequences


def naive_pad(seqs, width, align):
    out = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        tail = s[-width:] if width else []
        if align == "right":
            out[i, width - len(tail):] = tail
        else:
            out[i, :len(tail)] = tail
    return out


def test_padded_select_truncate_match_naive_versions():
    rng = np.random.default_rng(0)
    lists = [rng.integers(1, 50, size=rng.integers(1, 12)).tolist() for _ in range(40)]
    seqs = Sequences.from_lists(lists)
    for width in (1, 3, 11, 20):
        for align in ("left", "right"):
            np.testing.assert_array_equal(seqs.padded(width, align=align), naive_pad(lists, width, align))
    rows = np.array([5, 0, 5, 39])
    assert [seqs.select(rows)[i].tolist() for i in range(4)] == [lists[r] for r in rows]
    long_enough = Sequences.from_lists([s for s in lists if len(s) > 2])
    dropped = long_enough.truncate_tail(2)
    assert [dropped[i].tolist() for i in range(len(dropped))] == [s[:-2] for s in lists if len(s) > 2]


def test_leave_last_out_targets_and_histories():
    seqs = Sequences.from_lists([[1, 2, 3, 4, 5], [6, 7, 8]])
    ds = SequenceDataset("toy", seqs, np.array(["a", "b"]), np.array(["<pad>"] + [str(i) for i in range(1, 9)]))
    sp = leave_last_out(ds)
    assert sp.train[0].tolist() == [1, 2, 3] and sp.train[1].tolist() == [6]
    assert sp.valid.targets.tolist() == [4, 7] and sp.valid.histories[0].tolist() == [1, 2, 3]
    assert sp.test.targets.tolist() == [5, 8] and sp.test.histories[1].tolist() == [6, 7]
