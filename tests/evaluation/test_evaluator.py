import numpy as np
import pytest
import torch

from genrec_bench.data.split import EvalSplit
from genrec_bench.data.types import Sequences
from genrec_bench.evaluation import EvalConfig, EvaluationError, Evaluator
from genrec_bench.recommender import FitReport, Recommender, TopK, top_k_from_scores


class FixedScores(Recommender):
    """Scores come from a fixed [n_users, n_items + 1] table; can hide score_all."""

    name = "fixed"

    def __init__(self, table: np.ndarray, exact: bool = True):
        super().__init__(None)
        self.table = torch.from_numpy(table)
        self.exact = exact

    def fit(self, splits, validator=None):
        return FitReport()

    def score_all(self, histories):
        return self.table[torch.from_numpy(histories.users)] if self.exact else None

    def recommend(self, histories, k) -> TopK:
        return top_k_from_scores(self.table[torch.from_numpy(histories.users)], k)


def make_split(n_users: int, n_items: int, rng) -> EvalSplit:
    seqs = [rng.integers(1, n_items + 1, size=rng.integers(1, 6)).tolist() for _ in range(n_users)]
    return EvalSplit(np.arange(n_users), Sequences.from_lists(seqs), rng.integers(1, n_items + 1, size=n_users))


def test_full_ranking_equals_top_k_path_within_the_list_and_is_chunk_invariant():
    rng = np.random.default_rng(1)
    n_users, n_items = 57, 40
    table = rng.normal(size=(n_users, n_items + 1)).astype(np.float32)
    split = make_split(n_users, n_items, rng)
    full = Evaluator(EvalConfig(batch_size=7), n_items=n_items).evaluate(FixedScores(table), split)
    big = Evaluator(EvalConfig(batch_size=1000), n_items=n_items).evaluate(FixedScores(table), split)
    topk = Evaluator(EvalConfig(batch_size=13), n_items=n_items).evaluate(FixedScores(table, exact=False), split)
    assert full.ranking == "full" and topk.ranking == "top-k" and topk.cutoff == 20
    np.testing.assert_array_equal(full.ranks, big.ranks)
    inside = full.ranks <= 20
    np.testing.assert_array_equal(full.ranks[inside], topk.ranks[inside])
    assert (topk.ranks[~inside] > 20).all()
    for metric in ("recall@10", "ndcg@10", "mrr@20", "ndcg@20"):
        assert full.mean(metric) == pytest.approx(topk.mean(metric), abs=0)


def test_metric_means_are_not_rounded_and_match_hand_computation():
    # two users, 3 items; user 0's target ranks 1st, user 1's target ranks 3rd
    table = np.array([[0, 3, 2, 1], [0, 3, 2, 1]], dtype=np.float32)
    split = EvalSplit(np.array([0, 1]), Sequences.from_lists([[1], [2]]), np.array([1, 3]))
    result = Evaluator(n_items=3).evaluate(FixedScores(table), split)
    assert result.ranks.tolist() == [1, 3]
    assert result.mean("ndcg@10") == (1.0 + 1 / np.log2(4)) / 2
    assert result.mean("recall@1") == 0.5
    assert result.mean("mrr@10") == (1 + 1 / 3) / 2


def test_history_masking_is_declared_and_applied():
    table = np.array([[0, 3, 2, 1]], dtype=np.float32)
    split = EvalSplit(np.array([0]), Sequences.from_lists([[1]]), np.array([2]))
    plain = Evaluator(n_items=3).evaluate(FixedScores(table), split)
    masked = Evaluator(EvalConfig(mask_history=True), n_items=3).evaluate(FixedScores(table), split)
    assert plain.ranks.tolist() == [2] and masked.ranks.tolist() == [1]
    assert masked.settings["mask_history"] is True and plain.settings["tie_policy"] == "pessimistic"


def test_cutoff_beyond_list_is_refused():
    table = np.zeros((1, 30), dtype=np.float32)
    split = EvalSplit(np.array([0]), Sequences.from_lists([[1]]), np.array([2]))
    result = Evaluator(n_items=29).evaluate(FixedScores(table, exact=False), split)
    with pytest.raises(ValueError, match="at least 50"):
        result.mean("recall@50")


class HolesInLists(FixedScores):
    """Top-k lists where user u's last ``u % 4`` slots hold no item (an invalid generated ID)."""

    def recommend(self, histories, k) -> TopK:
        top = super().recommend(histories, k)
        holes = torch.from_numpy(histories.users % 4)
        slot = torch.arange(k).unsqueeze(0)
        empty = slot >= k - holes.unsqueeze(1)
        return TopK(items=top.items.masked_fill(empty, 0), scores=top.scores.masked_fill(empty, -torch.inf))


def test_empty_top_k_slots_are_counted_per_user_and_summarised():
    rng = np.random.default_rng(3)
    n_users, n_items = 30, 40
    table = rng.normal(size=(n_users, n_items + 1)).astype(np.float32)
    split = make_split(n_users, n_items, rng)
    result = Evaluator(EvalConfig(batch_size=8), n_items=n_items).evaluate(HolesInLists(table, exact=False), split)
    np.testing.assert_array_equal(result.empty_slots, np.arange(n_users) % 4)
    summary = result.list_summary()
    assert summary["empty_slot_rate"] == pytest.approx((np.arange(n_users) % 4).mean() / 20)
    assert summary["users_with_empty_slots"] == pytest.approx(np.mean(np.arange(n_users) % 4 > 0))
    assert result.subset(np.arange(n_users) < 5).empty_slots.tolist() == [0, 1, 2, 3, 0]
    full = Evaluator(n_items=n_items).evaluate(FixedScores(table), split)
    assert full.empty_slots is None and full.list_summary() is None


def test_user_domain_candidates_rank_only_the_users_own_domain():
    rng = np.random.default_rng(4)
    n_users, n_items = 24, 30
    item_domain = np.array([-1] + [0] * 12 + [1] * 18)
    user_domain = np.arange(n_users) % 2
    # targets in the user's domain; other-domain items get the highest scores
    targets = np.where(user_domain == 0, rng.integers(1, 13, n_users), rng.integers(13, 31, n_users))
    split = EvalSplit(np.arange(n_users), Sequences.from_lists([[1]] * n_users), targets)
    table = rng.normal(size=(n_users, n_items + 1)).astype(np.float32)
    table[item_domain[None, :] != user_domain[:, None]] += 100.0
    config = EvalConfig(candidates="user-domain")
    evaluator = Evaluator(config, n_items=n_items, item_domain=item_domain, user_domain=user_domain)
    full = evaluator.evaluate(FixedScores(table), split)
    # by hand: 1 + the number of own-domain items scoring above the target
    own = item_domain[None, :] == user_domain[:, None]
    above = (table > table[np.arange(n_users), targets][:, None]) & own
    np.testing.assert_array_equal(full.ranks, 1 + above.sum(1))
    topk = evaluator.evaluate(FixedScores(table, exact=False), split)
    inside = full.ranks <= 20
    # the top-k path drops the other domain's items from the lists: its hits are a subset
    assert (topk.ranks[inside & (topk.ranks <= 20)] == full.ranks[inside & (topk.ranks <= 20)]).all()
    assert "user's own domain" in evaluator.settings()["protocol"]
    everything = Evaluator(n_items=n_items).evaluate(FixedScores(table), split)
    assert (everything.ranks > full.ranks).all()            # the other domain's 12 or 18 items come first
    with pytest.raises(ValueError, match="needs item_domain"):
        Evaluator(config, n_items=n_items)


class FixedLists(Recommender):
    """Returns given top-k lists (rows by user), padded with empty slots to k; no score_all."""

    name = "fixed-lists"

    def __init__(self, items: list[list[int]], scores: list[list[float]] | None = None):
        super().__init__(None)
        self.items, self.scores = items, scores

    def fit(self, splits, validator=None):
        return FitReport()

    def recommend(self, histories, k) -> TopK:
        items = torch.zeros(len(histories), k, dtype=torch.long)
        scores = torch.full((len(histories), k), -torch.inf)
        for row, user in enumerate(histories.users):
            listed = self.items[user]
            items[row, :len(listed)] = torch.tensor(listed)
            given = self.scores[user] if self.scores else [-float(j) for j in range(len(listed))]
            scores[row, :len(listed)] = torch.tensor(given)
        return TopK(items=items, scores=scores)


def one_user_split(history: list[int], target: int) -> EvalSplit:
    return EvalSplit(np.array([0]), Sequences.from_lists([history]), np.array([target]))


def test_invalid_slots_are_misses_in_place_and_the_policy_is_recorded():
    split = one_user_split([1], target=7)
    model = FixedLists([[5, 0, 0, 7]])             # two slots wasted on IDs that are no item
    result = Evaluator(n_items=30).evaluate(model, split)
    assert result.ranks.tolist() == [4] and result.settings["invalid_slots"] == "miss"
    skipped = Evaluator(EvalConfig(invalid_slots="skip"), n_items=30).evaluate(model, split)
    assert skipped.ranks.tolist() == [2] and skipped.settings["invalid_slots"] == "skip"
    with pytest.raises(ValueError, match="invalid_slots"):
        EvalConfig(invalid_slots="ignore")


def test_masking_never_drops_the_target_from_a_top_k_list():
    # the target (3) is also a history item: the full ranking keeps it, so must the top-k path
    table = np.array([[0, 3, 2, 4, 1]], dtype=np.float32)
    split = one_user_split([1, 3], target=3)
    config = EvalConfig(mask_history=True)
    full = Evaluator(config, n_items=4).evaluate(FixedScores(table), split)
    topk = Evaluator(config, n_items=4).evaluate(FixedLists([[3, 1, 2, 4]], [[4.0, 3.0, 2.0, 1.0]]), split)
    assert full.ranks.tolist() == topk.ranks.tolist() == [1]


class ExcludingLists(FixedScores):
    """Top-k from a score table; declares ``exclude`` (like a trie-constrained decoder)."""

    def __init__(self, table: np.ndarray):
        super().__init__(table, exact=False)
        self.seen_exclude: list[torch.Tensor | None] = []

    def recommend(self, histories, k, exclude=None) -> TopK:
        self.seen_exclude.append(exclude)
        return top_k_from_scores(self.table[torch.from_numpy(histories.users)], k, exclude=exclude)


def test_filtered_lists_are_refilled_by_methods_that_take_exclude():
    rng = np.random.default_rng(5)
    n_users, n_items = 40, 60
    table = rng.normal(size=(n_users, n_items + 1)).astype(np.float32)
    # long histories of each user's best-scored items: masking removes most of a plain top-20
    best = np.argsort(-table[:, 1:], axis=1)[:, :15] + 1
    split = EvalSplit(np.arange(n_users), Sequences.from_lists(best.tolist()), rng.integers(1, n_items + 1, n_users))
    evaluator = Evaluator(EvalConfig(mask_history=True, batch_size=16), n_items=n_items)
    full = evaluator.evaluate(FixedScores(table), split)
    refilled = ExcludingLists(table)
    topk = evaluator.evaluate(refilled, split)
    assert all(e is not None and e.shape[1] == n_items + 1 for e in refilled.seen_exclude)
    inside = full.ranks <= 20
    np.testing.assert_array_equal(topk.ranks[inside], full.ranks[inside])   # same ranks as the full ranking
    assert (topk.ranks[~inside] > 20).all() and topk.empty_slots.sum() == 0
    # a method without the keyword: its lists are filtered, never refilled, and the record says so
    plain = evaluator.evaluate(FixedScores(table, exact=False), split)
    hit = plain.ranks <= 20
    np.testing.assert_array_equal(plain.ranks[hit], full.ranks[hit])       # removed items move the rest up
    assert plain.list_summary()["empty_slot_rate"] >= 14 / 20             # counted after the removal


def test_top_k_lists_are_kept_as_returned_for_re_scoring():
    split = one_user_split([5], target=7)
    model = FixedLists([[5, 0, 7, 8]], [[-1.0, -2.0, -3.0, -3.0]])
    result = Evaluator(EvalConfig(mask_history=True), n_items=30).evaluate(model, split)
    assert result.lists.dtype == np.int32 and result.lists.shape == (1, 20)
    assert result.lists[0, :5].tolist() == [5, 0, 7, 8, 0]                # before the removal of item 5
    assert result.list_ties[0, :5].tolist() == [False, False, False, True, False]
    assert result.ranks.tolist() == [3]          # 5 removed; the hole stays a miss; 8 ties with 7
    assert Evaluator(n_items=30).evaluate(FixedScores(np.zeros((1, 31), np.float32)), split).lists is None


@pytest.mark.parametrize(("items", "scores", "message"), [
    ([4, 31], None, "outside 1..n_items"),
    ([4, 9], [0.5, float("nan")], "NaN"),
    ([4, 9, 4, 7], None, "twice"),
    ([4, 9], [0.1, 0.5], "increase"),
])
def test_bad_top_k_lists_are_refused_naming_the_method_and_user(items, scores, message):
    users = [[1, 2]] * 3 + [items]
    split = EvalSplit(np.arange(4), Sequences.from_lists([[1]] * 4), np.array([1, 1, 1, 9]))
    model = FixedLists(users, None if scores is None else [[2.0, 1.0]] * 3 + [scores])
    with pytest.raises(EvaluationError, match=rf"fixed-lists: .*{message}.* user 3 "):
        Evaluator(n_items=30).evaluate(model, split)


def test_nan_and_misshapen_scores_are_refused_naming_the_method_and_user():
    table = np.zeros((3, 6), dtype=np.float32)
    table[2, 4] = np.nan
    split = EvalSplit(np.arange(3), Sequences.from_lists([[1]] * 3), np.array([1, 2, 3]))
    with pytest.raises(EvaluationError, match=r"fixed: score_all gave NaN for user 2 \(item 4"):
        Evaluator(n_items=5).evaluate(FixedScores(table), split)
    with pytest.raises(EvaluationError, match="expected"):
        Evaluator(n_items=4).evaluate(FixedScores(np.zeros((3, 6), np.float32)), split)
    infinite = np.zeros((3, 6), dtype=np.float32)
    infinite[:, 1], infinite[:, 2] = np.inf, -np.inf                  # no NaN: ranked as usual
    assert Evaluator(n_items=5).evaluate(FixedScores(infinite), split).ranks.tolist() == [1, 5, 4]
