"""Subcommand ``compare``: is one saved run better than another on the same held-out users?

Both runs are scored on the same users of their shared train/test split and the per-user
differences of one metric are summarised by a paired t interval and p-value (a paired bootstrap
for the set-level coverage and gini); see :mod:`recsys_core.evaluation.compare`.
"""
from __future__ import annotations

import json
import math
import sys

from ..errors import HyperparameterError
from ..evaluation.metrics import EVALUATION_SAMPLE_USERS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="paired comparison of two runs trained on the same split",
        description="Score two runs (folders written by train --holdout, on the same dataset and "
                    "split) on the same held-out users and compare one metric user by user: both "
                    "means, the difference A - B with its confidence interval and p-value "
                    "(paired t over users; paired bootstrap for coverage and gini), and a verdict.")
    p.add_argument("run_a", metavar="RUN_A", help="run folder A")
    p.add_argument("run_b", metavar="RUN_B", help="run folder B")
    p.add_argument("--metric", default=None, metavar="NAME",
                   help="metric to compare: ndcg@K, recall@K, precision@K, map@K, hit_rate@K, "
                        "novelty, popularity_percentile, diversity_genre, rmse, mae, coverage, "
                        "gini (default ndcg@K)")
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--per-user", metavar="CSV", default=None,
                   help="write each compared user's values as user,a,b rows (raw user ids)")
    p.add_argument("--max-users", type=int, default=EVALUATION_SAMPLE_USERS, metavar="N",
                   help=f"compare on every test user when there are at most N, else on the fixed "
                        f"sample of N the runs' metrics use (default {EVALUATION_SAMPLE_USERS:,}; "
                        f"0: every user)")
    p.set_defaults(func=compare_command)


def _json_number(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


def compare_command(args) -> int:
    from ..evaluation.compare import SET_LEVEL_METRICS, compare_runs
    from ..runs.store import load_run

    if args.k < 1:
        raise HyperparameterError(f"--k must be >= 1, got {args.k}")
    if args.max_users < 0:
        raise HyperparameterError(f"--max-users must be >= 0, got {args.max_users}")
    metric = args.metric or f"ndcg@{args.k}"
    if args.per_user and metric in SET_LEVEL_METRICS:
        raise HyperparameterError(f"{metric} is a property of the whole set of lists: it has no "
                                  "per-user values to write")
    run_a, run_b = load_run(args.run_a), load_run(args.run_b)
    comparison = compare_runs(run_a, run_b, k=args.k, max_users=args.max_users or sys.maxsize,
                              metrics=[metric])
    diff = comparison.differences[metric]
    verdict = diff.verdict(comparison.name_a, comparison.name_b)
    if args.per_user:
        import pandas as pd

        pd.DataFrame({"user": comparison.user_ids, "a": comparison.per_user_a[metric],
                      "b": comparison.per_user_b[metric]}).to_csv(args.per_user, index=False)
        print(f"wrote {len(comparison.users)} rows to {args.per_user}", file=sys.stderr)
    if args.json:
        record = {"run_a": comparison.name_a, "run_b": comparison.name_b, "k": args.k,
                  "split": comparison.split_name, **diff.as_dict(), "verdict": verdict}
        print(json.dumps({key: _json_number(value) for key, value in record.items()}))
        return 0
    level = int(round(100 * diff.confidence))
    print(f"A = {comparison.name_a} ({run_a.info.model_kind}), B = {comparison.name_b} "
          f"({run_b.info.model_kind}); split {comparison.split_name}, {diff.n_users:,} users, "
          f"k={args.k}")
    print(f"  {metric} A: {diff.mean_a:.4f}")
    print(f"  {metric} B: {diff.mean_b:.4f}")
    print(f"  A - B: {diff.diff:+.4f}, {level}% interval [{diff.ci_low:+.4f}, {diff.ci_high:+.4f}] "
          f"(half-width {(diff.ci_high - diff.ci_low) / 2:.4f}), p = {diff.p_value:.4g} "
          f"({diff.method})")
    print(verdict)
    return 0
