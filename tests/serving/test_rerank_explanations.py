"""The re-ranking explanation is truthful (issue 20.8): an item fairness promoted says so, for
which group, which prefix needed it (issue 21.4), by how many places (its own rank in the whole
catalogue, not a place just after the pool's end shared with the other promoted items) and why
its final score is low; an item fairness pushed down says it placed group items above it; an
item moved up by a filter names the filter instead of "none". On the tiny hand-made catalogue
of test_rerank_rules."""
import numpy as np
from hypothesis import given, settings, strategies as st

from recsys_core.serving.candidates import ScoreVectorGenerator
from recsys_core.serving.pipeline import recommend_pipeline
from recsys_core.serving.rerank import RerankConfig, rerank
from tests.serving.test_rerank_rules import ALL, DATA, GENRES, SCORES

# Base order 0, 1, 2, 3, 4, 5 (Drama), 7, 8, 6 (Drama), 9 (Drama): the Drama items are not
# next to each other in the catalogue's order.
CATALOGUE_SCORES = np.zeros(10, np.float32)
CATALOGUE_SCORES[[0, 1, 2, 3, 4, 5, 7, 8, 6, 9]] = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4,
                                                    0.35, 0.3]


def drama_list(**knobs):
    """Top 4 from a pool of the generator's best 4 (items 0-3, no Drama) with half the list
    reserved for Drama: the group's own retrieval brings in items 5 and 6 from below the pool."""
    config = RerankConfig(fair_group="Drama", fair_share=0.5, **knobs)
    return recommend_pipeline(None, ScoreVectorGenerator(CATALOGUE_SCORES), DATA, k=4,
                              config=config, n_per_generator=4, seen=[])


def test_promoted_items_say_the_group_their_own_rise_and_why_their_score_is_low():
    result = drama_list()
    t = result.table
    # The top 2 needs 1 Drama item and the top 4 two: 5 lands at rank 2, 6 at rank 4.
    assert t["item"].tolist() == [0, 5, 1, 6]
    assert t["nominated_by"].tolist()[1::2] == ["model+Drama retrieval"] * 2 \
        or t["nominated_by"].tolist()[1::2] == ["Drama retrieval"] * 2
    # Their ranks in the catalogue (6 and 9), not 5 and 6 just after the pool of 4.
    assert t["original_rank"].tolist() == [1, 6, 2, 9]
    assert result.moves == ["=", "↑4", "↓1", "↑5"]
    assert t["moved_by"].tolist() == ["none", "fairness", "group items above", "fairness"]
    assert t["why"].iloc[0] == ""
    assert t["why"].iloc[2] == ("down 1 place: fairness placed 1 Drama item above it (at least "
                                "50% of every prefix)")
    # Relevance, min-max over the 7 candidates (the pool's 4, the retrieval's 5, 6 and 9) with
    # 1% of the range as the floor: (0.5 - 0.3 + 0.007) / (0.7 + 0.007).
    relevance = [(0.5 - 0.3 + 0.007) / 0.707, (0.35 - 0.3 + 0.007) / 0.707]
    np.testing.assert_allclose(t["relevance"].iloc[1::2], relevance, rtol=1e-5)
    assert t["why"].iloc[1] == (
        "promoted for the Drama group: up 4 places (rank 6 by base score) to keep Drama items at "
        "50% of every prefix (the top 2 must hold 1); its final score 0.29 is low because its "
        "base score 0.5 is far below the best candidate's 1 (relevance 0.29 when the 7 "
        "candidates' base scores are scaled to 0..1)")
    assert t["why"].iloc[3] == (
        "promoted for the Drama group: up 5 places (rank 9 by base score) to keep Drama items at "
        "50% of every prefix (the top 4 must hold 2); its final score 0.08 is low because its "
        "base score 0.35 is far below the best candidate's 1 (relevance 0.08 when the 7 "
        "candidates' base scores are scaled to 0..1)")


def test_a_promoted_item_names_every_factor_that_lowers_its_score():
    result = drama_list(freshness_half_life=10.0, reference_year=2010.0, popularity_penalty=0.5)
    row = result.table.set_index("item").loc[5]  # released 2000, rated by 2 users
    assert row["moved_by"] == "fairness"
    assert row["why"].startswith("promoted for the Drama group")
    assert "its base score 0.5 is far below the best candidate's 1" in row["why"]
    assert "released 10 years before 2010 (freshness ×0.50)" in row["why"]
    assert "its 2 ratings bring a popularity penalty ×0.71" in row["why"]


def test_items_moved_up_by_a_filter_name_it():
    """Excluding Action (items 0, 1, 2, 7) moves every other item up: "genre filter", never
    "none" beside a move."""
    r = rerank(ALL, SCORES, RerankConfig(hide_seen=False, exclude_genres=("Action",)),
               dataset=DATA, user=0, k=6)
    t = r.table
    assert t["item"].tolist() == [3, 4, 5, 6, 8, 9]
    assert r.moves == ["↑3"] * 4 + ["↑4"] * 2
    assert (t["moved_by"] == "genre filter").all()
    assert t["why"].iloc[0] == ("up 3 places: 3 candidates ranked above it removed by the "
                                "genre filter (excluded: Action)")
    assert t["why"].iloc[4].startswith("up 4 places: 4 candidates")
    r = rerank(ALL, SCORES, RerankConfig(hide_seen=True, min_ratings=2), dataset=DATA, user=0)
    t = r.table.set_index("item")  # 0 and 1 seen by user 0; 4, 6, 7, 8, 9 have < 2 ratings
    assert t.loc[2, "moved_by"] == "seen filter"
    assert t.loc[5, "moved_by"] == "seen filter+min_ratings filter"
    assert t.loc[5, "why"] == ("up 3 places: 2 candidates ranked above it removed by the seen "
                               "filter (items already rated); 1 candidate ranked above it "
                               "removed by the minimum-ratings filter (fewer than 2 ratings)")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=10, max_size=10),
       st.sampled_from((None, "long-tail") + GENRES), st.floats(0, 1), st.integers(1, 10),
       st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([0.0, 0.5]),
       st.sampled_from([(), ("Action",), ("Comedy", "Drama")]), st.sampled_from([0, 2]),
       st.sampled_from([None, 3]))
def test_an_item_that_moved_always_says_why(scores, group, share, k, lam, penalty, genres,
                                             min_ratings, cap):
    config = RerankConfig(hide_seen=True, fair_group=group, fair_share=share if group else 0.0,
                          diversity=lam, popularity_penalty=penalty, exclude_genres=genres,
                          min_ratings=min_ratings, max_per_genre=cap)
    r = rerank(ALL, scores, config, dataset=DATA, user=0, k=k)
    t = r.table
    for move, moved_by, why in zip(r.moves, t["moved_by"], t["why"]):
        if move != "=":
            assert moved_by != "none" and why, (move, moved_by, why)
        assert (moved_by == "none") == (why == "")
    for why in t["why"][t["moved_by"] == "fairness"]:
        assert why.startswith(f"promoted for the {group} group")
        assert "of every prefix (the top " in why
    for why in t["why"][t["moved_by"].str.contains("group items above")]:
        assert "fairness placed" in why and f"{group} item" in why


def test_an_item_pushed_down_counts_only_the_group_items_that_passed_it():
    """Comedy at share 1 over 2, 3 (Comedy), 5, 4 (Comedy): the walk gives 3, 4, 2, 5. Item 2
    was passed by both Comedy items, item 5 only by 4 (3 was above it already)."""
    config = RerankConfig(hide_seen=False, fair_group="Comedy", fair_share=1.0)
    r = rerank(np.array([2, 3, 5, 4]), np.array([4.0, 3.0, 2.0, 1.0]), config, dataset=DATA,
               k=4)
    t = r.table
    assert t["item"].tolist() == [3, 4, 2, 5] and r.moves == ["↑1", "↑2", "↓2", "↓1"]
    assert t["why"].iloc[2] == ("down 2 places: fairness placed 2 Comedy items above it (at "
                                "least 100% of every prefix)")
    assert t["why"].iloc[3] == ("down 1 place: fairness placed 1 Comedy item above it (at "
                                "least 100% of every prefix)")
    assert r.group_prefixes_short == 2  # only 2 Comedy candidates for prefixes of 3 and 4
