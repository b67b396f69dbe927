"""The semantic-ID artifact: TIGER's disambiguation level, code diagnostics on hand-made
codes, the token layout, and strict save/load (config mismatch, missing, partial or corrupt
files are errors, never a silent load)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from genrec_bench.errors import DataError
from genrec_bench.generative.semantic_ids import SemanticIds, add_dedup_level, code_diagnostics

IDENTITY = {"tokenizer": "rqkmeans", "config": {"levels": 2, "hidden": (8, 4)}, "seed": 0}


def test_dedup_level_numbers_items_within_each_colliding_group_in_index_order():
    codes = np.array([[3, 1], [0, 0], [3, 1], [2, 2], [3, 1], [0, 0], [1, 1]])
    out, size = add_dedup_level(codes)
    assert out.dtype == np.int64 and out.shape == (7, 3)
    assert np.array_equal(out[:, :2], codes)                       # the original codes are kept
    assert out[:, 2].tolist() == [0, 0, 1, 0, 2, 1, 0]
    assert size == 3                                               # the largest group (3 x [3, 1])
    assert np.unique(out, axis=0).shape[0] == 7
    # items whose codes are not shared get extra code 0
    assert out[3, 2] == 0 and out[6, 2] == 0


def test_dedup_level_without_collisions_is_all_zeros_of_size_one():
    codes = np.array([[0, 1], [1, 0], [1, 1]])
    out, size = add_dedup_level(codes)
    assert out[:, 2].tolist() == [0, 0, 0] and size == 1


def test_code_diagnostics_on_hand_made_codes():
    # level 0: codes 0..3 twice each (uniform, 2 bits of 3 possible with K = 8);
    # level 1: 0 for six items, 1 for two; tuples (0,0) x2 and (1,0) x2 collide, 4 items unique
    codes = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [2, 0], [2, 1], [3, 0], [3, 1]])
    diag = code_diagnostics(codes, (8, 4))
    assert diag["collision_rate"] == pytest.approx(4 / 8)
    assert diag["largest_collision_group"] == 2
    level0, level1 = diag["levels"]
    assert level0 == {"codes_used": 4, "size": 8, "entropy_bits": pytest.approx(2.0),
                      "max_entropy_bits": pytest.approx(3.0)}
    p = np.array([6, 2]) / 8
    assert level1["codes_used"] == 2 and level1["size"] == 4
    assert level1["entropy_bits"] == pytest.approx(float(-(p * np.log2(p)).sum()))   # 0.811 bits
    assert level1["max_entropy_bits"] == pytest.approx(2.0)


def test_code_diagnostics_of_unique_and_fully_collapsed_codes():
    unique = code_diagnostics(np.array([[0], [1], [2], [3]]), (4,))
    assert unique["collision_rate"] == 0.0 and unique["largest_collision_group"] == 1
    assert unique["levels"][0]["entropy_bits"] == pytest.approx(2.0)
    collapsed = code_diagnostics(np.zeros((5, 2), dtype=np.int64), (4, 4))
    assert collapsed["collision_rate"] == 1.0 and collapsed["largest_collision_group"] == 5
    assert all(level["entropy_bits"] == 0.0 and level["codes_used"] == 1 for level in collapsed["levels"])


def test_token_layout_offsets_every_level_after_the_special_tokens():
    ids = SemanticIds(codes=np.array([[0, 0, 0], [3, 2, 1], [0, 1, 0]]), level_sizes=(4, 3, 2))
    assert ids.level_offsets.tolist() == [2, 6, 9]
    assert ids.vocab_size == 2 + 4 + 3 + 2
    assert ids.tokens().tolist() == [[0, 0, 0], [5, 8, 10], [2, 7, 9]]
    assert ids.n_items == 2 and ids.length == 3


def test_codes_outside_their_level_or_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError, match="outside"):
        SemanticIds(codes=np.array([[0, 0], [0, 3]]), level_sizes=(2, 3))
    with pytest.raises(ValueError, match="must be"):
        SemanticIds(codes=np.array([[0, 0], [0, 1]]), level_sizes=(2, 2, 2))


def saved(tmp_path, identity=IDENTITY):
    codes = np.array([[0, 0, 0], [1, 2, 0], [1, 2, 1], [0, 1, 0]])
    ids = SemanticIds(codes=codes, level_sizes=(2, 3, 2), config=identity,
                      diagnostics={"collision_rate": 0.5})
    ids.save(tmp_path / "ids")
    return ids, tmp_path / "ids"


def test_save_then_load_with_the_same_config_round_trips_exactly(tmp_path):
    ids, path = saved(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.json", "ids.npz"]
    loaded = SemanticIds.load(path, expect_config=IDENTITY)
    assert np.array_equal(loaded.codes, ids.codes) and loaded.codes.dtype == np.int64
    assert loaded.level_sizes == (2, 3, 2) and loaded.dedup_level is True
    assert loaded.diagnostics == {"collision_rate": 0.5}
    assert loaded.config == json.loads(json.dumps(IDENTITY))       # tuples come back as lists
    assert np.array_equal(loaded.tokens(), ids.tokens())


def test_load_with_another_expected_config_raises_naming_the_config(tmp_path):
    _, path = saved(tmp_path)
    other = {**IDENTITY, "seed": 1}
    with pytest.raises(DataError, match="another config") as error:
        SemanticIds.load(path, expect_config=other)
    assert error.value.key == "config" and error.value.path.endswith("ids.json")
    assert "differs in: seed)" in str(error.value)


def test_load_refuses_a_missing_half_of_the_artifact(tmp_path):
    _, path = saved(tmp_path)
    (tmp_path / "ids.npz").unlink()
    with pytest.raises(DataError, match="missing") as error:
        SemanticIds.load(path, expect_config=IDENTITY)
    assert error.value.path.endswith("ids.npz")


def test_load_refuses_metadata_without_a_required_key(tmp_path):
    _, path = saved(tmp_path)
    meta = json.loads((tmp_path / "ids.json").read_text())
    del meta["level_sizes"]
    (tmp_path / "ids.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="missing key") as error:
        SemanticIds.load(path)
    assert error.value.key == "level_sizes"


def _write_npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def test_load_refuses_codes_with_rows_missing(tmp_path):
    ids, path = saved(tmp_path)
    _write_npz(tmp_path / "ids.npz", codes=ids.codes[:-1])          # one item short
    with pytest.raises(DataError, match="shape"):
        SemanticIds.load(path, expect_config=IDENTITY)


def test_load_refuses_an_npz_without_codes(tmp_path):
    ids, path = saved(tmp_path)
    _write_npz(tmp_path / "ids.npz", other=ids.codes)
    with pytest.raises(DataError, match="codes"):
        SemanticIds.load(path, expect_config=IDENTITY)


def test_load_refuses_duplicate_ids(tmp_path):
    ids, path = saved(tmp_path)
    codes = ids.codes.copy()
    codes[2] = codes[1]
    _write_npz(tmp_path / "ids.npz", codes=codes)
    with pytest.raises(DataError, match="not unique"):
        SemanticIds.load(path, expect_config=IDENTITY)


@pytest.mark.parametrize("name", ["ids.npz", "ids.json"])
def test_a_truncated_file_raises_a_data_error_naming_the_file(tmp_path, name):
    _, path = saved(tmp_path)
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=name):
        SemanticIds.load(path, expect_config=IDENTITY)
