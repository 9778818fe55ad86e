"""Every metric against a hand-computed example, edge cases, a brute-force cross-check and
evaluate_model on a stub recommender with fixed embeddings."""
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import percentileofscore

from recsys_core.data.dataset import Dataset
from recsys_core.errors import DataError, HyperparameterError
from recsys_core.evaluation.metrics import (Validation, catalogue_coverage, evaluate_model,
                                            group_exposure, group_recall_at_k,
                                            group_recall_per_item, hit_rate_at_k,
                                            intra_list_diversity,
                                            mae, map_at_k, ndcg_at_k, novelty,
                                            popularity_percentile, popularity_percentiles,
                                            precision_at_k, ranking_metrics,
                                            ranking_metrics_per_user, recall_at_k, rmse)
from recsys_core.evaluation.split import predefined_split
from recsys_core.models import PrecomputedEmbeddings


def csr(rows, n_items):
    """CSR with a 1 at every (user, item) listed per row."""
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(c), np.float32), (r, c)), shape=(len(rows), n_items))


# ---------------------------------------------------------------------------- rating error
def test_rmse_and_mae_by_hand():
    truth, predicted = [1, 2, 3, 4], [1.5, 2, 2, 6]
    # errors -0.5, 0, 1, -2: squares 0.25 + 0 + 1 + 4 = 5.25, / 4 = 1.3125, sqrt = 1.1456439
    assert rmse(truth, predicted) == pytest.approx(math.sqrt(1.3125))
    # |errors| 0.5 + 0 + 1 + 2 = 3.5, / 4 = 0.875
    assert mae(truth, predicted) == pytest.approx(0.875)


def test_rating_error_of_nothing_is_nan_and_lengths_must_match():
    assert math.isnan(rmse([], [])) and math.isnan(mae([], []))
    with pytest.raises(ValueError, match="3 values"):
        rmse([1, 2, 3], [1, 2])


# ---------------------------------------------------------------------------- top-k accuracy
# Three users, six items, k = 3.
#   user 0: list [0, 1, 2], relevant {0, 2} -> hits [1, 0, 1]
#   user 1: list [3, 4, -1], relevant {5}   -> hits [0, 0, 0]
#   user 2: list [5, 0, 1], relevant {}     -> excluded from every mean
RECOMMENDED = np.array([[0, 1, 2], [3, 4, -1], [5, 0, 1]])
RELEVANT = csr([[0, 2], [5], []], 6)


def test_precision_by_hand():
    # user 0: 2 hits / k=3; user 1: 0 / 3 -> mean (2/3 + 0) / 2 = 1/3
    assert precision_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(1 / 3)


def test_recall_by_hand():
    # user 0: 2 / min(3, 2) = 1; user 1: 0 / min(3, 1) = 0 -> mean 0.5
    assert recall_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(0.5)


def test_ndcg_by_hand():
    # user 0: DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5;
    #         ideal over min(3, 2) = 2 slots = 1 + 1/log2(3) = 1.6309298 -> 0.9197208
    # user 1: 0 -> mean 0.4598604
    expected = (1.5 / (1 + 1 / math.log2(3))) / 2
    assert expected == pytest.approx(0.4598604, abs=1e-7)
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(expected)


def test_map_by_hand():
    # user 0: precision at the hits (positions 1 and 3) = 1/1 and 2/3; (1 + 2/3) / min(3, 2)
    #         = 0.8333333; user 1: 0 -> mean 0.4166667
    assert map_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 + 2 / 3) / 2 / 2)


def test_hit_rate_by_hand():
    # user 0 has a hit, user 1 none -> 1/2
    assert hit_rate_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(0.5)


def test_a_longer_list_by_hand():
    # relevant {1, 3, 4, 7}, list [9, 1, 3, 8, 4], k = 5 -> hits [0, 1, 1, 0, 1]
    got = ranking_metrics([[9, 1, 3, 8, 4]], csr([[1, 3, 4, 7]], 10), 5)
    assert got["precision@5"] == pytest.approx(3 / 5)
    assert got["recall@5"] == pytest.approx(3 / 4)                       # / min(5, 4)
    # DCG = 1/log2(3) + 1/log2(4) + 1/log2(6) = 0.6309298 + 0.5 + 0.3868528 = 1.5177826
    # ideal (4 slots) = 1 + 0.6309298 + 0.5 + 0.4306766 = 2.5616063 -> 0.5925120
    assert got["ndcg@5"] == pytest.approx(0.5925120, abs=1e-7)
    # AP = (1/2 + 2/3 + 3/5) / min(5, 4) = 1.7666667 / 4 = 0.4416667
    assert got["map@5"] == pytest.approx(0.4416667, abs=1e-7)
    assert got["hit_rate@5"] == 1.0


def test_ranking_metrics_returns_every_metric_named_with_k():
    got = ranking_metrics(RECOMMENDED, RELEVANT, 3)
    assert got == pytest.approx({"precision@3": 1 / 3, "recall@3": 0.5,
                                 "ndcg@3": ndcg_at_k(RECOMMENDED, RELEVANT, 3),
                                 "map@3": 5 / 12, "hit_rate@3": 0.5})


def test_per_user_values_leave_users_without_test_items_as_nan():
    per_user = ranking_metrics_per_user(RECOMMENDED, RELEVANT, 3)
    np.testing.assert_allclose(per_user["precision@3"], [2 / 3, 0, np.nan])
    np.testing.assert_allclose(per_user["recall@3"], [1, 0, np.nan])
    assert np.nanmean(per_user["ndcg@3"]) == pytest.approx(ndcg_at_k(RECOMMENDED, RELEVANT, 3))


def test_users_without_test_items_do_not_change_the_means():
    only_first_two = ranking_metrics(RECOMMENDED[:2], RELEVANT[:2], 3)
    assert ranking_metrics(RECOMMENDED, RELEVANT, 3) == pytest.approx(only_first_two)


def test_no_user_with_test_items_gives_nan():
    got = ranking_metrics([[0, 1]], csr([[]], 3), 2)
    assert all(math.isnan(v) for v in got.values())


def test_an_empty_list_scores_zero_and_padding_is_never_a_hit():
    # user 0: nothing recommended; user 1: [1, -1] with relevant {1}
    got = ranking_metrics([[-1, -1], [1, -1]], csr([[0], [1]], 3), 2)
    # precision: (0/2 + 1/2) / 2 = 0.25 (padding counts against the list); recall (0 + 1/1) / 2
    assert got["precision@2"] == pytest.approx(0.25)
    assert got["recall@2"] == pytest.approx(0.5)
    assert got["hit_rate@2"] == pytest.approx(0.5)
    # a pad in user 1's list must not match user 0's last item (flat keys 1*3 - 1 = 0*3 + 2)
    assert ranking_metrics([[0], [-1]], csr([[2], [0]], 3), 1)["hit_rate@1"] == 0.0


def test_k_larger_than_the_catalogue():
    # 3 items, k = 5: the list [2, 0, 1] is padded; relevant {1} at position 3
    got = ranking_metrics([[2, 0, 1]], csr([[1]], 3), 5)
    assert got["precision@5"] == pytest.approx(1 / 5)
    assert got["recall@5"] == pytest.approx(1.0)          # 1 / min(5, 1)
    assert got["ndcg@5"] == pytest.approx(0.5)            # (1/log2(4)) / (1/log2(2))
    assert got["map@5"] == pytest.approx(1 / 3)           # precision at position 3 = 1/3, / 1
    assert got["hit_rate@5"] == 1.0


def test_lists_longer_than_k_are_cut():
    # only [4, 0] counts at k = 2; item 1 at position 3 is ignored
    got = ranking_metrics([[4, 0, 1]], csr([[1]], 5), 2)
    assert got["hit_rate@2"] == 0.0 and got["precision@2"] == 0.0


def test_a_repeated_item_counts_once():
    got = ranking_metrics([[0, 0]], csr([[0, 1]], 3), 2)
    assert got["precision@2"] == pytest.approx(0.5)


def test_explicit_zeros_in_the_relevance_matrix_are_not_relevant():
    rel = sp.csr_matrix((np.array([0.0, 1.0], np.float32), np.array([0, 1]), np.array([0, 2])),
                        shape=(1, 3))
    assert precision_at_k([[0, 1]], rel, 2) == pytest.approx(0.5)


def test_bad_arguments_are_rejected():
    with pytest.raises(HyperparameterError, match="k must"):
        precision_at_k(RECOMMENDED, RELEVANT, 0)
    with pytest.raises(ValueError, match="rows"):
        precision_at_k(RECOMMENDED[:2], RELEVANT, 3)
    with pytest.raises(ValueError, match="out of range"):
        precision_at_k([[0, 6, 1]], csr([[0]], 6), 3)
    with pytest.raises(ValueError, match="out of range"):
        precision_at_k([[0, -2, 1]], csr([[0]], 6), 3)
    with pytest.raises(ValueError, match="int array"):
        precision_at_k([[0.5, 1.0]], csr([[0]], 6), 2)


def brute_force(recommended, relevant_sets, k):
    """The textbook definitions, one user at a time, as an independent reference."""
    out = {"precision": [], "recall": [], "ndcg": [], "map": [], "hit_rate": []}
    for rec, rel in zip(recommended, relevant_sets):
        if not rel:
            continue
        seen, hits = set(), []
        for item in list(rec)[:k]:
            hits.append(item >= 0 and item in rel and item not in seen)
            seen.add(item)
        hits += [False] * (k - len(hits))
        m = min(k, len(rel))
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / m)
        dcg = sum(1 / math.log2(j + 2) for j, h in enumerate(hits) if h)
        out["ndcg"].append(dcg / sum(1 / math.log2(j + 2) for j in range(m)))
        out["map"].append(sum(sum(hits[:j + 1]) / (j + 1) for j, h in enumerate(hits) if h) / m)
        out["hit_rate"].append(float(any(hits)))
    return {f"{name}@{k}": float(np.mean(v)) for name, v in out.items()}


@pytest.mark.parametrize("k", [1, 4, 12])
def test_vectorized_metrics_match_the_textbook_definitions_on_random_lists(k):
    rng = np.random.default_rng(k)
    n_users, n_items = 40, 15
    recommended = rng.integers(-1, n_items, size=(n_users, 8))
    relevant_sets = [set(rng.choice(n_items, size=rng.integers(0, 6), replace=False).tolist())
                     for _ in range(n_users)]
    got = ranking_metrics(recommended, csr([sorted(s) for s in relevant_sets], n_items), k)
    assert got == pytest.approx(brute_force(recommended, relevant_sets, k))


# ---------------------------------------------------------------------------- beyond accuracy
def test_catalogue_coverage_by_hand():
    # items {0, 1, 2} appear (padding ignored) out of 5
    assert catalogue_coverage([[0, 1, -1], [1, 2, -1]], 5) == pytest.approx(3 / 5)
    assert catalogue_coverage([[-1, -1]], 5) == 0.0


GENRES = np.array([[1, 1, 0],    # item 0: A, B
                   [0, 1, 0],    # item 1: B
                   [0, 0, 1],    # item 2: C
                   [0, 0, 0],    # item 3: no genre
                   [0, 0, 0]],   # item 4: no genre
                  dtype=bool)


def test_genre_diversity_by_hand():
    # list [0, 1, 2]: Jaccard distances (0,1) 1 - 1/2 = 0.5, (0,2) 1 - 0/3 = 1, (1,2) 1 - 0/2 = 1
    #                 -> mean 2.5 / 3 = 0.8333333
    # list [1, -1, -1]: a single item has no pair -> not averaged
    # list [3, 3, 1]: the repeat is dropped, pair (3,1): 1 - 0/1 = 1
    # -> (0.8333333 + 1) / 2 = 0.9166667
    got = intra_list_diversity([[0, 1, 2], [1, -1, -1], [3, 3, 1]], GENRES)
    assert got == pytest.approx((2.5 / 3 + 1) / 2)
    # two items without any genre count as identical
    assert intra_list_diversity([[3, 4]], GENRES, "jaccard") == 0.0


EMBEDDINGS = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.float32)


def test_embedding_diversity_by_hand():
    # list [0, 1, 2]: cosine distances (0,1) 1 - 0 = 1, (0,2) and (1,2) 1 - 1/sqrt(2) = 0.2928932
    #                 -> (1 + 2 * 0.2928932) / 3 = 0.5285955
    # list [0, 3]: a zero vector has cosine 0 with anything -> distance 1
    # -> (0.5285955 + 1) / 2 = 0.7642977
    got = intra_list_diversity([[0, 1, 2], [0, 3, -1]], EMBEDDINGS)
    assert got == pytest.approx(((1 + 2 * (1 - 1 / math.sqrt(2))) / 3 + 1) / 2, abs=1e-6)


def test_diversity_without_any_pair_is_nan_and_the_measure_is_checked():
    assert math.isnan(intra_list_diversity([[1, -1], [2, 2]], GENRES))
    with pytest.raises(HyperparameterError, match="measure"):
        intra_list_diversity([[0, 1]], GENRES, "euclidean")


POPULARITY = np.array([8, 4, 2, 1, 0])   # training users per item, out of 8 users
LISTS = np.array([[0, 1, -1], [2, 4, 3]])


def test_novelty_by_hand():
    # -log2(p / 8): item 0 -> 0, item 1 -> 1, item 2 -> 2, item 3 -> 3, item 4 (never seen,
    # counted as 1) -> 3; five real slots: (0 + 1 + 2 + 3 + 3) / 5 = 1.8 bits
    assert novelty(LISTS, POPULARITY, 8) == pytest.approx(1.8)
    assert math.isnan(novelty([[-1]], POPULARITY, 8))


def test_popularity_percentiles_by_hand_and_against_scipy():
    # sorted [0, 1, 2, 4, 8]: item 0 (8) has 4 below -> (4 + 0.5) / 5 = 90; 70, 50, 30, 10
    np.testing.assert_allclose(popularity_percentiles(POPULARITY), [90, 70, 50, 30, 10])
    # ties share the mean rank: [5, 5, 1, 0] -> (2 + 1) / 4 = 75, 75, (1 + 0.5) / 4 = 37.5, 12.5
    tied = np.array([5, 5, 1, 0])
    np.testing.assert_allclose(popularity_percentiles(tied), [75, 75, 37.5, 12.5])
    np.testing.assert_allclose(popularity_percentiles(tied),
                               [percentileofscore(tied, p, kind="mean") for p in tied])


def test_popularity_percentile_by_hand():
    # slots hold items 0, 1, 2, 4, 3 -> (90 + 70 + 50 + 10 + 30) / 5 = 50
    assert popularity_percentile(LISTS, POPULARITY) == pytest.approx(50.0)


def test_group_exposure_by_hand():
    group = np.array([True, False, True, False, False])
    # 5 real slots, 2 show the group (item 0, item 2) -> 0.4
    assert group_exposure(LISTS, group) == pytest.approx(0.4)
    # weights by position 1, 1/log2(3) = 0.6309298, 1/log2(4) = 0.5:
    # total = (1 + 0.6309298) + (1 + 0.6309298 + 0.5) = 3.7618595; group = 1 + 1 = 2
    # -> 2 / 3.7618595 = 0.5316512
    assert group_exposure(LISTS, group, position_discount=True) == pytest.approx(
        2 / (2 + 2 / math.log2(3) + 0.5))
    assert math.isnan(group_exposure([[-1, -1]], group))


# ---------------------------------------------------------------------------- related items
# Items 0-2 form group 0 (a trilogy), 3-4 group 1 (a pair), 5 is alone in group 2, 6-7 in none.
GROUPS = np.array([0, 0, 0, 1, 1, 2, -1, -1])


def test_group_recall_by_hand():
    neighbours = np.array([
        [1, 6, 2],     # item 0: both siblings (1, 2) of 2 -> 1
        [6, 0, 7],     # item 1: sibling 0 of 2 -> 0.5
        [3, 6, 7],     # item 3: its one sibling (4) missing -> 0
        [3, -1, -1],   # item 4: its one sibling (3) found, list padded -> 1
    ])
    per_item = group_recall_per_item(neighbours, [0, 1, 3, 4], GROUPS, k=3)
    np.testing.assert_allclose(per_item, [1.0, 0.5, 0.0, 1.0])
    assert group_recall_at_k(neighbours, [0, 1, 3, 4], GROUPS, k=3) == pytest.approx(2.5 / 4)
    # k=1 keeps the first column, and the denominator becomes min(k, siblings) = 1:
    # item 0 finds 1 -> 1, item 1 finds 6 -> 0, item 3 finds itself -> 0, item 4 finds 3 -> 1
    np.testing.assert_allclose(group_recall_per_item(neighbours, [0, 1, 3, 4], GROUPS, k=1),
                               [1.0, 0.0, 0.0, 1.0])


def test_group_recall_ignores_the_query_repeats_and_items_without_siblings():
    # item 0 listing itself and sibling 1 twice finds one sibling of 2 -> 0.5
    assert group_recall_per_item([[0, 1, 1]], [0], GROUPS, k=3)[0] == pytest.approx(0.5)
    # item 5 is alone in its group and item 6 is in none: NaN, left out of the mean
    per_item = group_recall_per_item([[0, 1, 2], [0, 1, 2], [4, 5, 6]], [5, 6, 3], GROUPS, k=3)
    assert np.isnan(per_item[:2]).all() and per_item[2] == 1.0
    assert group_recall_at_k([[0, 1, 2], [4, 5, 6]], [5, 3], GROUPS, k=3) == 1.0
    assert math.isnan(group_recall_at_k([[0, 1, 2]], [7], GROUPS, k=3))


def test_group_recall_rejects_misaligned_or_out_of_range_input():
    with pytest.raises(ValueError, match="2 rows"):
        group_recall_per_item([[1, 2], [0, 2]], [0], GROUPS, k=2)
    with pytest.raises(ValueError, match="out of range"):
        group_recall_per_item([[1, 2]], [8], GROUPS, k=2)
    with pytest.raises(ValueError, match="out of range"):
        group_recall_per_item([[1, 8]], [0], GROUPS, k=2)


# ---------------------------------------------------------------------------- evaluate_model
class FixedRatings(PrecomputedEmbeddings):
    predicts_ratings = True


# 3 users, 4 items. Every user scores item i as item_vector[i] = 4, 3, 2, 1.
#   train: user 0 {0}, user 1 {1}, user 2 {0, 1}
#   test:  user 0 {2: rated 3}, user 1 {3: rated 1}, user 2 nothing
# Top-2 with training items excluded: user 0 [1, 2] (hits [0, 1]); user 1 [0, 2] (no hit).
TRAIN = csr([[0], [1], [0, 1]], 4)
TEST = sp.csr_matrix((np.array([3.0, 1.0], np.float32), ([0, 1], [2, 3])), shape=(3, 4))
USERS, ITEMS = np.ones((3, 1)), np.array([[4.0], [3.0], [2.0], [1.0]])


def test_evaluate_model_by_hand():
    model = PrecomputedEmbeddings(USERS, ITEMS).fit(TRAIN)
    got = evaluate_model(model, TEST, k=2)
    # user 0: precision 1/2, recall 1/min(2,1) = 1, ndcg (1/log2(3)) / 1 = 0.6309298,
    #         AP (1/2) / 1 = 0.5, hit 1; user 1: all 0; user 2 has no test item
    assert got["precision@2"] == pytest.approx(0.25)
    assert got["recall@2"] == pytest.approx(0.5)
    assert got["ndcg@2"] == pytest.approx(0.5 / math.log2(3))
    assert got["map@2"] == pytest.approx(0.25)
    assert got["hit_rate@2"] == pytest.approx(0.5)
    # items shown {0, 1, 2} of 4
    assert got["coverage"] == pytest.approx(0.75)
    # training popularity 2, 2, 0, 0 over 3 users; slots: item 1, item 2 | item 0, item 2:
    # 2 * -log2(2/3) + 2 * -log2(1/3) (unseen item 2 counted once) = 2 * 0.5849625 + 2 * 1.5849625
    # -> / 4 = 1.0849625
    assert got["novelty"] == pytest.approx((2 * math.log2(3 / 2) + 2 * math.log2(3)) / 4)
    # 1-D embeddings: every pair has cosine 1
    assert got["diversity_embedding"] == pytest.approx(0.0, abs=1e-6)
    assert "rmse" not in got and "diversity_genre" not in got and "group_exposure" not in got


def test_evaluate_model_adds_rating_error_for_rating_models():
    model = FixedRatings(USERS, ITEMS).fit(TRAIN)
    got = evaluate_model(model, TEST, k=2, beyond_accuracy=False)
    # predictions: user 0 item 2 -> 2 (rated 3), user 1 item 3 -> 1 (rated 1): errors 1, 0
    assert got["rmse"] == pytest.approx(math.sqrt(0.5))
    assert got["mae"] == pytest.approx(0.5)
    assert set(got) == {"precision@2", "recall@2", "ndcg@2", "map@2", "hit_rate@2", "rmse", "mae"}


def test_evaluate_model_options():
    model = PrecomputedEmbeddings(USERS, ITEMS).fit(TRAIN)
    # user 2 (no test items) is scored for coverage ([2, 3] -> all 4 items) but not averaged
    with_user_2 = evaluate_model(model, TEST, k=2, users=[0, 1, 2])
    assert with_user_2["coverage"] == 1.0
    assert with_user_2["precision@2"] == pytest.approx(0.25)
    # only ratings >= 3 relevant: user 1's test item (rated 1) no longer counts -> user 0 alone
    strict = evaluate_model(model, TEST, k=2, relevance_threshold=3, beyond_accuracy=False)
    assert strict["precision@2"] == pytest.approx(0.5) and strict["hit_rate@2"] == 1.0
    # items 2 and 3 form the group: slots 1, 2 | 0, 2 -> 2 of 4
    grouped = evaluate_model(model, TEST, k=2, group_mask=np.array([0, 0, 1, 1], bool),
                             item_genres=GENRES[:4])
    assert grouped["group_exposure"] == pytest.approx(0.5)
    # lists [1, 2] and [0, 2]: Jaccard distance 1 for both pairs
    assert grouped["diversity_genre"] == pytest.approx(1.0)


def test_evaluate_model_takes_a_dataset_and_rejects_another_index_space():
    data = Dataset.from_interactions([0, 1, 2, 2], [0, 1, 0, 1], item_ids=range(4))
    test = data.with_ratings(TEST)
    model = PrecomputedEmbeddings(USERS, ITEMS).fit(data)
    assert evaluate_model(model, test, k=2) == pytest.approx(evaluate_model(model, TEST, k=2))
    with pytest.raises(DataError, match="shape"):
        evaluate_model(model, csr([[0]], 4), k=2)


def test_fit_with_validation_records_validation_metrics_in_history():
    model = PrecomputedEmbeddings(USERS, ITEMS).fit(TRAIN, validation=Validation(TEST))
    assert model.history_[0]["val_precision@10"] == pytest.approx(
        evaluate_model(model, TEST, k=10)["precision@10"])


def test_most_popular_beats_random_on_movielens(ml100k):
    split = predefined_split(ml100k, "u1")
    popularity = split.train.item_popularity
    rng = np.random.default_rng(0)
    popular = PrecomputedEmbeddings(np.ones((ml100k.n_users, 1)), np.log1p(popularity)[:, None])
    random = PrecomputedEmbeddings(rng.normal(size=(ml100k.n_users, 8)),
                             rng.normal(size=(ml100k.n_items, 8)))
    top = evaluate_model(popular.fit(split.train), split.test)
    rand = evaluate_model(random.fit(split.train), split.test)
    for name in ("precision@10", "recall@10", "ndcg@10", "map@10", "hit_rate@10"):
        assert 0 <= rand[name] < top[name] <= 1
    assert top["precision@10"] > 0.2 and rand["precision@10"] < 0.06
    # popular lists are narrow and unsurprising; random ones spread over the catalogue
    assert top["coverage"] < 0.1 < 0.3 < rand["coverage"]
    assert top["popularity_percentile"] > 95 and 35 < rand["popularity_percentile"] < 65
    assert top["novelty"] < rand["novelty"]
