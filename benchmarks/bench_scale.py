"""Loading at MovieLens-25M scale: a seeded generator of an ml-25m-shaped "latest" folder, and load
times of our loader (cold, then warm through the binary cache) against pandas and pyarrow.

    python benchmarks/bench_scale.py --scale 0.1            # 2.3M ratings, in a temporary folder
    python benchmarks/bench_scale.py --scale 1 --folder /tmp/ml-25m-like --repeat 5

The folder is written to a temporary directory (or --folder, generated there only when it holds no
ratings.csv, and never deleted), never into the repository.
:func:`write_movielens_latest` is the reusable part: later benchmarks (WALS, batch recommend, the
app at 25M) call it for the same data.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: ml-25m's shape as the issue measured it: users, items, ratings.
ML25M_SHAPE = (162_541, 59_047, 23_300_000)
_GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
           "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance",
           "Sci-Fi", "Thriller", "War", "Western")


def write_movielens_latest(folder: str | Path, scale: float = 1.0, seed: int = 0) -> dict:
    """Write ``ratings.csv`` and ``movies.csv`` of ml-25m's shape (times ``scale``) into ``folder``.

    Users rate between 20 and a few thousand movies (log-normal activity, as in MovieLens); movies
    are drawn by a Zipf-like popularity; ratings are half stars 0.5-5 around a per-movie mean;
    timestamps are seconds in 1995-2019. Rows are sorted by user then movie, as GroupLens ships
    them. Titles carry "(Year)" and some hold commas and quotes (quoted like the real file).

    Returns ``{"users", "items", "ratings", "bytes"}`` of what was written (duplicates drawn for
    one user are removed, so ``ratings`` is slightly below the target).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_users = max(10, int(ML25M_SHAPE[0] * scale))
    n_items = max(10, int(ML25M_SHAPE[1] * scale ** 0.5))  # catalogues grow slower than users
    n_target = max(100, int(ML25M_SHAPE[2] * scale))

    shape = rng.lognormal(mean=0.0, sigma=1.1, size=n_users)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity /= popularity.sum()
    rank_to_item = rng.permutation(n_items)
    oversample = 1.0
    for _ in range(2):  # the second pass draws more to make up for the duplicates removed
        activity = np.maximum(20, shape / shape.sum() * n_target * oversample).astype(np.int64)
        activity = np.minimum(activity, n_items // 2)
        users = np.repeat(np.arange(n_users, dtype=np.int64), activity)
        items = rank_to_item[rng.choice(n_items, size=len(users), p=popularity)]
        keys = np.unique(users * n_items + items)  # sorted by user, then item; no duplicates
        del users, items
        oversample *= n_target / len(keys)
    users, items = keys // n_items, keys % n_items
    del keys

    movie_ids = np.sort(rng.choice(np.arange(1, 4 * n_items + 1), size=n_items, replace=False))
    user_ids = np.arange(1, n_users + 1)
    mean = np.clip(rng.normal(3.5, 0.5, n_items), 1.0, 4.7)
    stars = np.clip(np.round((mean[items] + rng.normal(0, 0.9, len(items))) * 2) / 2, 0.5, 5.0)
    timestamps = rng.integers(789_652_009, 1_574_327_703, size=len(items))
    ratings = pa.table({"userId": user_ids[users], "movieId": movie_ids[items],
                        "rating": stars, "timestamp": timestamps})
    _write_csv(ratings, folder / "ratings.csv")

    years = rng.integers(1902, 2020, size=n_items)
    genre_count = rng.integers(0, 4, size=n_items)
    genre_draw = rng.integers(0, len(_GENRES), size=(n_items, 3))
    genres = ["|".join(sorted({_GENRES[g] for g in row[:k]})) or "(no genres listed)"
              for row, k in zip(genre_draw, genre_count)]
    titles = [(f'Movie {m}, The "Sequel" ({y})' if m % 7 == 0 else f"Movie {m} ({y})")
              for m, y in zip(movie_ids.tolist(), years.tolist())]
    movies = pa.table({"movieId": movie_ids, "title": titles, "genres": genres})
    _write_csv(movies, folder / "movies.csv")
    size = sum(f.stat().st_size for f in folder.glob("*.csv"))
    return {"users": int(len(np.unique(users))), "items": n_items, "ratings": len(stars),
            "bytes": size}


def _write_csv(table, path: Path):
    """CSV as GroupLens writes it: a bare header line, fields quoted only when needed."""
    import pyarrow.csv as pacsv

    with open(path, "wb") as out:
        out.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style="needed"))


def bench_load(folder: Path, cache_dir: Path, repeat: int = 3) -> list[tuple[str, float, float, str]]:
    """Best-of-``repeat`` wall and CPU seconds to load ``folder``: ours cold (no cache entry; it
    is written by a thread after the load returns: timed to the return, and to the end of the
    write), ours warm (cache hit), ours without the cache, and pandas and pyarrow reading the same
    two files (no validation, no matrix).

    The rows run interleaved, one round of each per repetition, so that a load from other
    processes hits every row alike. Every row reads the files from the OS page cache (the first
    round put them there): this compares parsing and building, not the disk. CPU seconds are the
    process's (all threads): on a busy machine they say more than wall time about the work done.
    """
    import pandas as pd
    import pyarrow.csv as pacsv

    from recsys_core.data import load_dataset
    from recsys_core.data.cache import wait_for_writes

    reports = {}
    rounds = iter(range(10**6))

    def cold():
        reports["cold"] = load_dataset(folder, cache=cache_dir / f"cold-{next(rounds)}").report.cache

    def cold_written():
        cold()
        wait_for_writes()

    def warm():
        reports["warm"] = load_dataset(folder, cache=cache_dir / "warm").report.cache

    routes = [
        ("ours, cold (validated + CSR; cache written after return)", cold, "cold"),
        ("ours, cold, until the background cache write is done", cold_written, "cold"),
        ("ours, warm (binary cache, checksums verified)", warm, "warm"),
        ("ours, cache=False (validated + CSR)", lambda: load_dataset(folder, cache=False), ""),
        ("pandas.read_csv, both files",
         lambda: (pd.read_csv(folder / "ratings.csv"), pd.read_csv(folder / "movies.csv")), ""),
        ("pyarrow.csv.read_csv, both files",
         lambda: (pacsv.read_csv(folder / "ratings.csv"), pacsv.read_csv(folder / "movies.csv")),
         ""),
    ]
    load_dataset(folder, cache=False)  # numba's kernels loaded (compiled on a first install)
    warm()  # the warm entry exists before the first timed round
    wait_for_writes()
    best = {what: (float("inf"), float("inf")) for what, _, _ in routes}
    for _ in range(repeat):
        for what, fn, _ in routes:
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[what] = (min(best[what][0], wall), min(best[what][1], cpu))
            wait_for_writes()  # untimed: no row pays for an earlier row's writing
            for old in cache_dir.glob("cold-*"):
                shutil.rmtree(old, ignore_errors=True)
    return [(what, *best[what], reports.get(key, "")) for what, _, key in routes]


def peak_rss_mb(folder: Path, cache_dir: Path) -> tuple[float, str]:
    """Peak resident memory (MB) of a fresh process that imports the engine and loads ``folder``
    (through ``cache_dir``: a cold load when it is empty, a warm one after)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (big) forking parent.
    code = ("import time; from recsys_core.data import load_dataset; t = time.perf_counter(); "
            f"d = load_dataset({str(folder)!r}, cache={str(cache_dir)!r}); "
            "t = time.perf_counter() - t; "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(int(hwm.split()[1]) / 1024, t, d.report.cache)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    rss, seconds, *cache = out.stdout.split()
    return float(rss), float(seconds), (cache or [""])[0]


def pandas_fresh_process(folder: Path) -> tuple[float, float]:
    """(peak RSS MB, seconds) of a fresh process reading both files with pandas.read_csv (the
    first large allocations of a process cost more than later ones: compare like with like)."""
    code = ("import time, pandas as pd; t = time.perf_counter(); "
            f"pd.read_csv({str(folder / 'ratings.csv')!r}); "
            f"pd.read_csv({str(folder / 'movies.csv')!r}); t = time.perf_counter() - t; "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(int(hwm.split()[1]) / 1024, t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rss, seconds = out.stdout.split()
    return float(rss), float(seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1,
                        help="fraction of ml-25m's users and ratings (default 0.1)")
    parser.add_argument("--folder", type=Path, help="where to write the data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per row")
    parser.add_argument("--models", action="store_true",
                        help="then WALS vs implicit and batch recommend on the same folder "
                             "(benchmarks/bench_scale_models.py)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    folder = args.folder or root / "ml-25m-like"
    try:
        if not (folder / "ratings.csv").is_file():
            start = time.perf_counter()
            shape = write_movielens_latest(folder, args.scale, args.seed)
            print(f"generated {shape['users']:,} users x {shape['items']:,} items, "
                  f"{shape['ratings']:,} ratings, {shape['bytes'] / 1e6:.0f} MB in "
                  f"{time.perf_counter() - start:.0f} s -> {folder}")
        rows = bench_load(folder, root / "cache", args.repeat)
        pandas_wall, pandas_cpu = next((w, c) for what, w, c, _ in rows if what.startswith("pandas"))
        size = sum(f.stat().st_size for f in folder.glob("*.csv")) / 1e6
        print(f"\n| load of {folder.name}, {size:.0f} MB (cpus: {os.cpu_count()}, best of "
              f"{args.repeat}, rounds interleaved) | wall s | x pandas | CPU s | x pandas | cache |")
        print("|---|---|---|---|---|---|")
        for what, wall, cpu, cache in rows:
            print(f"| {what} | {wall:.2f} | {wall / pandas_wall:.2f} | {cpu:.2f} | "
                  f"{cpu / pandas_cpu:.2f} | {cache} |")
        rss_dir = root / "rss-cache"
        (cold_mb, cold_s, cold_state), (warm_mb, warm_s, warm_state) = (
            peak_rss_mb(folder, rss_dir), peak_rss_mb(folder, rss_dir))
        pandas_fresh_mb, pandas_fresh_s = pandas_fresh_process(folder)
        print(f"\nfresh process (ours imports numba and loads its cached kernels on the first "
              f"call; imports not timed): ours cold {cold_s:.2f} s, peak RSS {cold_mb:,.0f} MB "
              f"({cold_state}); ours warm {warm_s:.2f} s, {warm_mb:,.0f} MB ({warm_state}); "
              f"pandas.read_csv of both files {pandas_fresh_s:.2f} s, {pandas_fresh_mb:,.0f} MB; "
              "importing the engine alone: ~120 MB")
        if args.models:
            from bench_scale_models import main as models_main

            models_main(["--folder", str(folder)])
    finally:
        for caches in ("cache", "rss-cache"):  # ~420 MB each at scale 1: never left behind
            shutil.rmtree(root / caches, ignore_errors=True)
        if not args.keep or args.folder is not None:  # a --folder is never deleted
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
