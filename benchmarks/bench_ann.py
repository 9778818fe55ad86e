"""Approximate vs exact top-10 retrieval: recall@10 and milliseconds per query, every measure.

Two catalogues:
- ml-100k size: 1,682 items x 64-d item embeddings and 943 user queries from a truncated SVD of the
  MovieLens 100K rating matrix (needs RECSYS_DATA_DIR; skipped otherwise);
- synthetic: N items (default 1,000,000) x 64-d, a mixture of 2,000 Gaussian clusters with
  log-normal norms (popularity-like), and 1,000 queries drawn from the same mixture.

Exact search is recsys_core.retrieval.topk.exact_search (one matrix product per batch +
argpartition), timed both one query at a time and in batches of 64 queries; the approximate side is
recsys_core.retrieval.ann.ANNIndex (faiss HNSW), timed the same two ways. Speed-up = exact ms/query
divided by ANN ms/query in the same mode, measured in this one run.

    python benchmarks/bench_ann.py [--items 1000000] [--queries 1000] [--threads 2]
    python benchmarks/bench_ann.py --compare-pynndescent   # also time pynndescent at 100k items
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys_core.retrieval.ann import ANNIndex, recall_at_k  # noqa: E402
from recsys_core.retrieval.similarity import MEASURES  # noqa: E402
from recsys_core.retrieval.topk import exact_search  # noqa: E402

K = 10


def synthetic_catalogue(n_items: int, n_queries: int, dim: int = 64, n_clusters: int = 2000,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    items = np.empty((n_items, dim), np.float32)
    for start in range(0, n_items, 200_000):  # in chunks to bound temporary memory
        n = min(200_000, n_items - start)
        block = (centres[rng.integers(0, n_clusters, n)]
                 + rng.standard_normal((n, dim)).astype(np.float32))
        items[start:start + n] = block * rng.lognormal(0.0, 0.3, (n, 1)).astype(np.float32)
    queries = (centres[rng.integers(0, n_clusters, n_queries)]
               + rng.standard_normal((n_queries, dim)).astype(np.float32))
    return items, queries.astype(np.float32)


def movielens_embeddings(dim: int = 64) -> tuple[np.ndarray, np.ndarray] | None:
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root or not (Path(root) / "ml-100k").is_dir():
        return None
    from scipy.sparse.linalg import svds

    from recsys_core.data import load_movielens_100k

    data = load_movielens_100k(str(Path(root) / "ml-100k"))
    u, s, vt = svds(data.ratings.astype(np.float64), k=dim, random_state=0)
    root_s = np.sqrt(s)
    return (vt.T * root_s).astype(np.float32), (u * root_s).astype(np.float32)


def per_query_ms(fn, queries: np.ndarray, batch: int) -> float:
    start = time.perf_counter()
    for lo in range(0, len(queries), batch):
        fn(queries[lo:lo + batch])
    return (time.perf_counter() - start) / len(queries) * 1000


def run(name: str, items: np.ndarray, queries: np.ndarray, measures, params: dict,
        single: int, search_efforts) -> list[str]:
    """One index per measure; every search effort (HNSW ef_search or IVF n_probe) on it."""
    rows = []
    for measure in measures:
        t0 = time.perf_counter()
        index = ANNIndex(measure, alpha=0.5, **params).fit(items)
        build = time.perf_counter() - t0
        effort_name = "ef_search" if index.index_type_ == "hnsw" else "n_probe"
        exact_idx, _ = exact_search(queries, items, K, measure, 0.5, batch_size=64)
        few = queries[:single]
        exact_1 = per_query_ms(lambda q: exact_search(q, items, K, measure, 0.5), few, 1)
        exact_b = per_query_ms(lambda q: exact_search(q, items, K, measure, 0.5, batch_size=64),
                               queries, 64)
        for effort in search_efforts[index.index_type_]:
            setattr(index, effort_name, effort)
            recall = recall_at_k(index.search(queries, K)[0], exact_idx)
            ann_1 = per_query_ms(lambda q: index.search(q, K), few, 1)
            ann_b = per_query_ms(lambda q: index.search(q, K), queries, 64)
            rows.append(f"| {name} | {measure} | {index.index_type_} {effort_name}={effort} | "
                        f"{build:6.1f} | {recall:.3f} | {exact_1:8.3f} | {ann_1:6.3f} | "
                        f"{exact_1 / ann_1:6.1f}x | {exact_b:8.3f} | {ann_b:6.3f} | "
                        f"{exact_b / ann_b:6.1f}x |")
            print(rows[-1], flush=True)
        del index
    return rows


def compare_pynndescent(threads: int) -> None:
    """Same 100k synthetic set, Euclidean, faiss HNSW vs pynndescent (the reason for the choice)."""
    import pynndescent

    items, queries = synthetic_catalogue(100_000, 500)
    exact_idx, _ = exact_search(queries, items, K, "euclidean", batch_size=64)
    t0 = time.perf_counter()
    nnd = pynndescent.NNDescent(items, metric="euclidean", n_neighbors=30, random_state=0,
                                n_jobs=threads)
    nnd.prepare()
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx, _ = nnd.query(queries, k=K, epsilon=0.1)
    ms = (time.perf_counter() - t0) / len(queries) * 1000
    print(f"| pynndescent 100k | euclidean | {build:6.1f} | {recall_at_k(idx, exact_idx):.3f} | "
          f"batched {ms:.3f} ms/query |")
    t0 = time.perf_counter()
    index = ANNIndex("euclidean", n_threads=threads).fit(items)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    idx, _ = index.search(queries, K)
    ms = (time.perf_counter() - t0) / len(queries) * 1000
    print(f"| faiss HNSW 100k | euclidean | {build:6.1f} | {recall_at_k(idx, exact_idx):.3f} | "
          f"batched {ms:.3f} ms/query |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--single", type=int, default=50, help="queries timed one at a time")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--index-type", default="auto", choices=["auto", "hnsw", "ivf"])
    ap.add_argument("--ef-search", default="64,256", help="HNSW ef_search values to try")
    ap.add_argument("--n-probe", default="16,64", help="IVF n_probe values to try")
    ap.add_argument("--ef-construction", type=int, default=40)
    ap.add_argument("--measures", default=",".join(MEASURES))
    ap.add_argument("--compare-pynndescent", action="store_true")
    args = ap.parse_args()
    measures = args.measures.split(",")
    print("| catalogue | measure | index | build s | recall@10 | exact ms/q (1) | ANN ms/q (1) "
          "| speed-up (1) | exact ms/q (batch 64) | ANN ms/q (batch 64) | speed-up (batch) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    params = dict(index_type=args.index_type, m=16, ef_construction=args.ef_construction,
                  n_threads=args.threads)
    efforts = {"hnsw": [int(e) for e in args.ef_search.split(",")],
               "ivf": [int(e) for e in args.n_probe.split(",")]}
    ml = movielens_embeddings()
    if ml is not None:
        run("ml-100k 1682x64", ml[0], ml[1], measures, params, args.single, efforts)
    items, queries = synthetic_catalogue(args.items, args.queries)
    run(f"synthetic {args.items // 1000}k x64", items, queries, measures, params, args.single,
        efforts)
    if args.compare_pynndescent:
        compare_pynndescent(args.threads)


if __name__ == "__main__":
    main()
