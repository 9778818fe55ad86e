"""Ranked group fairness (issue 21.4): what keeping the long-tail share in every prefix of the
list buys and costs, against the former rule that only guaranteed the share of the whole list.

For ml-latest-small (9.1k items) and lastfm-2k (17.6k) from ``$RECSYS_DATA_DIR`` (see
benchmarks/catalogues.py): WALS with its defaults trained on the protocol's test holdout
(per-user 80/20, seed 0); every test user's list re-ranked with ``rerank_lists`` (the pipeline's
pool of max(200, 5k) candidates, plus the group's own retrieval when the pool is short of it),
k = 10 and 20, long-tail share 0.3 (the 80% least popular items of the training data). Columns:

- prefix ok: share of lists in which every prefix holds its minimum (floor(0.3 n) in the top
  n, ceil(0.3 k) in the whole list: ``prefix_minimums``), for the model's order, the former
  whole-list rule and the prefix rule (must be 100% where the candidates allow);
- tail@10: long-tail share of the top 10, before (model order) and after (prefix rule);
- dExp: position-discounted exposure share of the long tail over the k slots (slot j weighted
  1/log2(j + 1), ``group_exposure(..., position_discount=True)``) before, with the former rule,
  after; "floor" is the least the prefix rule guarantees: group items exactly at the ranks
  where floor(0.3 n) rises (4, 7, 10, ...), the rest elsewhere. "The share's worth" in
  discounted terms is that floor, not 0.3: the table asks for items as low as it allows, where
  the discount is heaviest, so after >= floor always and after - before >= floor - before;
- NDCG@10 before/after (and with the former rule) and the paired difference (after - before)
  with its standard error over users with test items. With k = 20 the top 10 is the same list
  as with k = 10 (the table of the first 10 ranks does not depend on k), so is its NDCG@10;
- ms/user: mean wall time of one user's re-rank (``rerank_lists`` / users: retrieval of the
  group's items, filters, the fairness stage, explanations) with the prefix rule and with the
  former rule, run in alternating blocks of 50 users (a shared machine's load hits both alike);
  stage µs: the fairness stage alone.

    RECSYS_DATA_DIR=/work/realdata python benchmarks/bench_fairness.py
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.catalogues import load_catalogue, protocol_splits  # noqa: E402
from recsys_core.evaluation.metrics import (group_exposure,  # noqa: E402
                                            ranking_metrics_per_user)
from recsys_core.models import WALS  # noqa: E402
from recsys_core.serving import rerank as rerank_module  # noqa: E402
from recsys_core.serving.pipeline import RerankConfig, rerank_lists  # noqa: E402
from recsys_core.serving.rerank import group_mask, prefix_minimums, prefix_shortfalls  # noqa: E402

CATALOGUES = ("ml-latest-small", "lastfm-2k")
LIST_LENGTHS = (10, 20)
SHARE = 0.3
CONFIG = RerankConfig(fair_group="long-tail", fair_share=SHARE)


def former_whole_list_rule(listed, final, in_group, share):
    """The rule this issue replaced (``_fair_swaps`` before issue 21.4): swap the weakest
    non-group items of the list for the best group items left out until the whole list holds
    ceil(share k); the newcomers placed by final score. Returns (list, 0 or 1 short), the
    shape of ``_fair_merge``'s answer."""
    listed = listed.copy()
    if len(listed) == 0 or share <= 0:
        return listed, 0
    needed = int(math.ceil(share * len(listed) - 1e-9)) - int(in_group[listed].sum())
    if needed <= 0:
        return listed, 0
    outside = np.setdiff1d(np.flatnonzero(in_group), listed)
    outside = outside[np.lexsort((outside, -final[outside]))]
    inside = np.flatnonzero(~in_group[listed])
    inside = inside[np.lexsort((-inside, final[listed[inside]]))]
    n_swaps = min(needed, len(outside), len(inside))
    kept = np.delete(listed, inside[:n_swaps])
    added = outside[:n_swaps]
    if len(kept) == 0:
        return added, int(n_swaps != needed)
    beats = final[kept][:, None] < final[added][None, :]
    slot = np.where(beats.any(axis=0), beats.argmax(axis=0), len(kept))
    return np.insert(kept, slot, added), int(n_swaps != needed)


def _timed_block(rule, model, train, users, k):
    """rerank_lists on ``users`` with ``rule`` as the fairness stage: (lists, seconds, stage
    seconds)."""
    spent = [0.0]

    def stage(*args):
        t0 = time.perf_counter()
        out = rule(*args)
        spent[0] += time.perf_counter() - t0
        return out

    original = rerank_module._fair_merge
    rerank_module._fair_merge = stage
    try:
        t0 = time.perf_counter()
        lists, _ = rerank_lists(CONFIG, model, train, users, k=k)
        elapsed = time.perf_counter() - t0
    finally:
        rerank_module._fair_merge = original
    return lists, elapsed, spent[0]


def compare_rules(model, train, users, k, block: int = 50):
    """Both rules over every user, in blocks of ``block`` users that alternate which rule goes
    first, so that both see the same load of a shared machine. Returns {rule: (lists, ms per
    user, stage µs per user)}."""
    rules = {"prefix": rerank_module._fair_merge, "former": former_whole_list_rule}
    parts = {name: ([], 0.0, 0.0) for name in rules}
    for i, start in enumerate(range(0, len(users), block)):
        chunk = users[start:start + block]
        for name in (("prefix", "former") if i % 2 == 0 else ("former", "prefix")):
            lists, elapsed, stage = _timed_block(rules[name], model, train, chunk, k)
            done, total, in_stage = parts[name]
            parts[name] = (done + [lists], total + elapsed, in_stage + stage)
    return {name: (np.concatenate(lists), 1e3 * total / len(users), 1e6 * stage / len(users))
            for name, (lists, total, stage) in parts.items()}


def floor_exposure(k: int) -> float:
    """Discounted exposure share of a k-list holding group items exactly where the table rises."""
    minimums = prefix_minimums(SHARE, k)
    ranks = np.flatnonzero(np.diff(np.concatenate([[0], minimums])) > 0) + 1
    weight = 1.0 / np.log2(np.arange(2, k + 2))
    return float(weight[ranks - 1].sum() / weight.sum())


def main() -> None:
    header = ("| catalogue | k | users | prefix ok before / former / after | tail@10 before / "
              "after | dExp before / former / after (floor) | dExp after - before | NDCG@10 "
              "before / after (former) | paired diff ± SE | ms/user prefix / former | "
              "stage µs prefix / former |")
    rows = []
    for name in CATALOGUES:
        t0 = time.perf_counter()
        data = load_catalogue(name)
        split, _ = protocol_splits(data, seed=0)
        train, test = split.train, split.test
        model = WALS().fit(train)
        users = np.flatnonzero(test.user_activity > 0)
        tail = group_mask(train, "long-tail", CONFIG.head_share)
        relevant = test.ratings[users]
        print(f"{name}: {train.n_users} users x {train.n_items} items, {len(users)} test users, "
              f"long tail {tail.sum():,} items; WALS {model!r} fitted in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        for k in LIST_LENGTHS:
            before, _ = model.recommend(users, k, exclude_seen=True)
            compared = compare_rules(model, train, users, k)
            after, ms_after, us_after = compared["prefix"]
            former, ms_former, us_former = compared["former"]
            ok = [float(np.mean(prefix_shortfalls(lists, tail, SHARE) == 0))
                  for lists in (before, former, after)]
            top = [float(tail[lists[:, :10]].mean()) for lists in (before, after)]
            exposure = [group_exposure(lists, tail, position_discount=True)
                        for lists in (before, former, after)]
            ndcg = [ranking_metrics_per_user(lists[:, :10], relevant, 10)["ndcg@10"]
                    for lists in (before, after, former)]
            diff = ndcg[1] - ndcg[0]
            diff = diff[np.isfinite(diff)]
            se = diff.std(ddof=1) / np.sqrt(len(diff))
            rows.append(
                f"| {name} | {k} | {len(users)} | {ok[0]:.1%} / {ok[1]:.1%} / {ok[2]:.1%} | "
                f"{top[0]:.3f} / {top[1]:.3f} | {exposure[0]:.3f} / {exposure[1]:.3f} / "
                f"{exposure[2]:.3f} ({floor_exposure(k):.3f}) | "
                f"{exposure[2] - exposure[0]:+.3f} | {np.nanmean(ndcg[0]):.4f} / "
                f"{np.nanmean(ndcg[1]):.4f} ({np.nanmean(ndcg[2]):.4f}) | "
                f"{diff.mean():+.4f} ± {se:.4f} | "
                f"{ms_after:.2f} / {ms_former:.2f} | {us_after:.0f} / {us_former:.0f} |")
            print(rows[-1], flush=True)
    print()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
