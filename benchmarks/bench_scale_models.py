"""The model sections of ``bench_scale.py``: WALS against implicit's ALS (whole fit, CPU, peak RSS)
and batch recommend for every user, at the 200k x 50k x 5M synthetic or an ml-25m-shaped folder.

    python benchmarks/bench_scale_models.py --synthetic                  # 200k x 50k x 5M
    python benchmarks/bench_scale_models.py --scale 1 --folder /tmp/ml-25m-like --keep
    python benchmarks/bench_scale.py --scale 1 --models              # load, then both sections

Every fit runs in a fresh subprocess that loads the interaction matrix (binary, as CSR) from an
.npz file, so its peak RSS (VmHWM of /proc/self/status) is its own and not the generator's. WALS's
compiled kernels are warmed up on a small slice first (numba caches them on disk; implicit needs
no compilation). Both libraries get the same threads, factors and iterations; implicit's
``calculate_training_loss`` is off, while WALS records its losses every iteration (part of its
time). The ml-25m folder is written by :func:`bench_scale.write_movielens_latest`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

FITS = ("data only", "WALS cg", "WALS cg + exact final sweep", "WALS cholesky", "implicit ALS cg")


def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _fit_child(which: str, path: str, threads: int, iterations: int, factors: int) -> None:
    """Run in a subprocess: load the matrix, fit one model, print a JSON line."""
    import numba

    numba.set_num_threads(threads)
    data = sp.load_npz(path).tocsr()
    data.data[:] = 1.0
    result = {}
    if which.startswith("WALS"):
        from recsys_core.models.als.wals import WALS

        params = {"solver": "cholesky" if which == "WALS cholesky" else "cg",
                  "exact_final_sweep": which.endswith("exact final sweep")}
        # Compile (or load the cached) parallel kernels outside the timing.
        WALS(factors=8, iterations=1, **params).fit(data[:20_000])
        model = WALS(factors=factors, iterations=iterations, **params)
    elif which == "implicit ALS cg":
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, "blas")
        model = AlternatingLeastSquares(factors=factors, iterations=iterations, random_state=0,
                                        num_threads=threads, calculate_training_loss=False)
    else:
        model = None
    start, start_cpu = time.perf_counter(), time.process_time()
    if model is not None:
        if which.startswith("WALS"):
            model.fit(data)
        else:
            model.fit(data, show_progress=False)
    result["seconds"] = time.perf_counter() - start
    result["cpu"] = time.process_time() - start_cpu
    result["peak_mb"] = _vm_hwm_mb()
    print(json.dumps(result))


def bench_wals(matrix_path: Path, threads: int = 2, iterations: int = 5, factors: int = 64,
               fits=FITS) -> list[tuple]:
    """One fresh subprocess per fit; rows (fit, seconds, CPU seconds, peak MB)."""
    rows = []
    for which in fits:
        out = subprocess.run([sys.executable, __file__, "--fit-child", which, str(matrix_path),
                              "--threads", str(threads), "--iterations", str(iterations),
                              "--factors", str(factors)],
                             capture_output=True, text=True, check=True, cwd=REPO)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((which, result["seconds"], result["cpu"], result["peak_mb"]))
    return rows


def print_wals(rows, title: str) -> None:
    ref = {what: (s, cpu, mb) for what, s, cpu, mb in rows}.get("implicit ALS cg")
    print(f"\n| {title} | fit s | x implicit | CPU s | x implicit CPU | peak RSS MB | "
          "x implicit RSS |")
    print("|---|---|---|---|---|---|---|")
    for what, seconds, cpu, mb in rows:
        ratio = (f"{seconds / ref[0]:.2f} | {cpu:.1f} | {cpu / ref[1]:.2f} | {mb:,.0f} | "
                 f"{mb / ref[2]:.2f}") if ref else f"| {cpu:.1f} | | {mb:,.0f} |"
        if what == "data only":
            print(f"| {what} (load the .npz) | | | | | {mb:,.0f} | "
                  f"{mb / ref[2]:.2f} |" if ref else f"| {what} | | | | | {mb:,.0f} | |")
            continue
        print(f"| {what} | {seconds:.1f} | {ratio} |")


def bench_recommend(folder: Path, work: Path, k: int = 20, ann: bool = False) -> list[tuple]:
    """``python -m recsys_core recommend`` for every user of a WALS run on ``folder`` (whole
    process: loading the run, scoring, writing the CSV). The run is WALS with ``iterations=0``
    (its random initial factors: recommend's cost does not depend on how well it was trained)."""
    from recsys_core.data import load_dataset
    from recsys_core.models.als.wals import WALS
    from recsys_core.runs.store import RunStore

    dataset = load_dataset(folder, cache=work / "cache")
    model = WALS(factors=64, iterations=0).fit(dataset)
    RunStore(work / "runs").save(model, dataset, name="wals-batch")
    del model, dataset
    rows = []
    for flags in ([], ["--ann"]) if ann else ([],):
        out = work / "recs.csv"
        script = work / "child.py"
        script.write_text(
            f"import atexit, sys, runpy\nsys.path.insert(0, {str(REPO)!r})\n"
            "def report():\n"
            "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "    print('PEAK', int(hwm.split()[1]) / 1024, file=sys.stderr)\n"
            "atexit.register(report)\n"
            "sys.argv = ['recsys_core'] + sys.argv[1:]\n"
            "runpy.run_module('recsys_core', run_name='__main__')\n")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script), "recommend", "--run",
                               str(work / "runs" / "wals-batch"), "--k", str(k), "--output",
                               str(out)] + flags, capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(done.stderr)
        peak = float(done.stderr.split("PEAK")[-1])
        with open(out, "rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))
        rows.append(("recommend " + " ".join(["--k", str(k)] + flags), seconds, peak,
                     lines - 1, out.stat().st_size / 1e6))
    return rows


def print_recommend(rows, n_users: int, n_items: int) -> None:
    print(f"\n| batch recommend, {n_users:,} users x {n_items:,} items (whole process) | s | "
          "peak RSS MB | rows | CSV MB |")
    print("|---|---|---|---|---|")
    for what, seconds, peak, lines, mb in rows:
        print(f"| {what} | {seconds:.1f} | {peak:,.0f} | {lines:,} | {mb:.0f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", action="store_true",
                        help="the 200k x 50k x 5M synthetic matrix (WALS only)")
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of ml-25m")
    parser.add_argument("--folder", type=Path, help="ml-25m-shaped folder (written if missing)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--sections", default="wals,recommend")
    parser.add_argument("--fits", default=",".join(FITS),
                        help="comma-separated subset of: " + ", ".join(FITS))
    parser.add_argument("--fit-child", nargs=2, metavar=("WHICH", "NPZ"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fit_child:
        _fit_child(args.fit_child[0], args.fit_child[1], args.threads, args.iterations,
                   args.factors)
        return 0
    fits = tuple(f.strip() for f in args.fits.split(","))
    root = Path(tempfile.mkdtemp(prefix="bench-scale-models-"))
    try:
        setting = f"factors {args.factors}, {args.iterations} iterations, {args.threads} threads"
        if args.synthetic:
            from bench_implicit import synthetic_matrix

            matrix = synthetic_matrix()
            sp.save_npz(root / "m.npz", matrix, compressed=False)
            print_wals(bench_wals(root / "m.npz", args.threads, args.iterations, args.factors,
                                  fits), f"{matrix.shape[0]:,} x {matrix.shape[1]:,} x "
                                         f"{matrix.nnz:,} synthetic ({setting})")
            return 0
        from bench_scale import write_movielens_latest
        from recsys_core.data import load_dataset

        folder = args.folder or root / "ml-25m-like"
        if not (folder / "ratings.csv").is_file():
            write_movielens_latest(folder, args.scale, 0)
        dataset = load_dataset(folder, cache=root / "cache")
        shape = (dataset.n_users, dataset.n_items, dataset.n_ratings)
        sections = args.sections.split(",")
        if "wals" in sections:
            sp.save_npz(root / "m.npz", dataset.ratings, compressed=False)
            del dataset
            print_wals(bench_wals(root / "m.npz", args.threads, args.iterations, args.factors,
                                  fits), f"{shape[0]:,} x {shape[1]:,} x {shape[2]:,} "
                                         f"ml-25m-shaped ({setting})")
        else:
            del dataset
        if "recommend" in sections:
            print_recommend(bench_recommend(folder, root, ann=True), shape[0], shape[1])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
