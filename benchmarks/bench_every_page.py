"""Issue 20, "No page hangs on any model kind or catalogue size": every page of the app opened in
headless Chromium on a run of every trainable model kind, on a catalogue of about 10k items.

    RECSYS_DATA_DIR=/work/realdata python benchmarks/bench_every_page.py [--data ml-latest-small]
    python benchmarks/bench_every_page.py --data generated-10k

``--data`` names a dataset folder under RECSYS_DATA_DIR (default MovieLens latest-small: 671 users
x 9,125 movies), or ``generated-10k``: the demo generator's catalogue of 2,000 users x 10,000
items (tests/models/test_large_catalogue_floors.py's parameters), written as a MovieLens-latest
folder in a temporary directory the server is pointed at.

Setup, through the engine's CLI as a course's preparation would: ``python -m recsys_core train
--model <kind> --holdout 0.2 --seed 0`` for every kind of ``trainable_models()``, with the kind's
defaults except the epoch counts of the SGD-trained kinds (``EPOCHS``: mf 30 -> 5, softmax 40 ->
5, two-tower 60 -> 5; WALS keeps its 15 iterations), each saved in a temporary run store. Then
``streamlit run app.py`` and one browser context at 1280 px; for every kind and every page (Home,
Data, Train, Embeddings, Similarity, Recommend, Compare runs, Tune) a fresh load of
``/<Page>?data=<name>&run=<the kind's run>`` (Train also ``model=<kind>``; Compare runs also
``cmp=<the run>,<the WALS run>`` (popularity's for WALS), so it has two runs to compare).
The server runs as the browser tests start it: without the background UMAP of a new run's map
(``RECSYS_PRECOMPUTE_UMAP=0``; runs trained by the CLI never get one anyway), so Embeddings
computes its default UMAP map when first opened on a run.

Per page x kind it records the seconds from the navigation to the page settled (app root's
script state "notRunning", no running status widget, skeleton or stale element, for 1 s; quiet
time not counted), on a page that took longer than 1 s the seconds until a progress element
(``st.spinner``, ``st.progress``, a running ``st.status``) first showed, exceptions
(``stException``), error boxes and developer text (bench_lesson_tour.py's check). A page that has
not settled after ``--timeout`` seconds is reported as such. Exits 1 when any cell has an
exception, has not settled or took more than 60 s.

Needs chromium at /usr/bin/chromium and the playwright package (no browser download).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from bench_lesson_tour import busy, problems  # noqa: E402
from browser_support import (CHROMIUM, CHROMIUM_FLAGS, start_server, stop_server,  # noqa: E402
                             write_latest_catalogue)

TARGET = 60.0
GENERATED = "generated-10k"
#: Cheaper epoch counts for the kinds trained by many SGD epochs (their defaults: 30, 40, 60).
EPOCHS = {"mf": 5, "softmax": 5, "two-tower": 5}
#: URL path of each page.
PAGES = {"Home": "", "Data": "Data", "Train": "Train", "Embeddings": "Embeddings",
         "Similarity": "Similarity", "Recommend": "Recommend", "Compare runs": "Compare_runs",
         "Tune": "Tune"}
PROGRESS = ('[data-testid="stSpinner"], [data-testid="stProgress"], '
            '[data-testid="stExpanderIconSpinner"]')


def generated_catalogue(root: Path) -> Path:
    """The demo generator's 2,000 x 10,000 catalogue as a MovieLens-latest folder in ``root``."""
    from recsys_core.data.demo import make_demo_dataset

    folder = root / GENERATED
    write_latest_catalogue(folder, make_demo_dataset(
        seed=0, n_users=2000, n_items=10_000, n_clusters=20, cluster_boost=30.0,
        mean_ratings_per_user=40.0, popularity_exponent=1.0))
    return folder


def train_every_kind(data: Path, runs: Path) -> dict[str, float]:
    """One run per trainable kind, named after it, through the CLI; seconds per kind."""
    from recsys_core.models import trainable_models

    seconds = {}
    for kind in trainable_models():
        settings = [f"--set=epochs={EPOCHS[kind]}"] if kind in EPOCHS else []
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "recsys_core", "train", "--model", kind,
                        *settings, "--data", str(data), "--holdout", "0.2", "--seed", "0",
                        "--out", str(runs / kind)],
                       cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       stdout=subprocess.DEVNULL)
        seconds[kind] = time.monotonic() - t0
        print(f"trained {kind}: {seconds[kind]:.0f} s", flush=True)
    return seconds


def page_url(url: str, page: str, data: str, kind: str) -> str:
    query = f"data={data}&run={kind}"
    if page == "Train":
        query += f"&model={kind}"
    if page == "Compare runs":
        query += f"&cmp={kind},{'popularity' if kind == 'wals' else 'wals'}"
    return f"{url}/{PAGES[page]}?{query}"


def open_page(pg, address: str, timeout: float, calm: float = 1.0) -> dict:
    """Load ``address`` and watch it until settled: seconds, first progress element, problems."""
    t0 = time.monotonic()
    pg.goto(address, wait_until="commit")
    first_progress = None
    quiet_since = None
    settled = None
    while time.monotonic() - t0 < timeout:
        now = time.monotonic()
        if first_progress is None and pg.locator(PROGRESS).count():
            first_progress = now - t0
        if pg.locator('[data-testid="stMain"] h1').count() == 0 or busy(pg):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= calm:
            settled = quiet_since - t0
            break
        time.sleep(0.1)
    errors, developer = problems(pg)
    return {"seconds": settled if settled is not None else time.monotonic() - t0,
            "settled": settled is not None, "progress": first_progress,
            "exception": pg.locator('[data-testid="stException"]').count() > 0,
            "errors": errors, "developer": developer}


def cell(result: dict) -> str:
    """One table cell: seconds, then the flags (no progress within 1 s, exception, ...)."""
    text = f"{result['seconds']:.1f}"
    if not result["settled"]:
        text = f">{text} NOT SETTLED"
    if result["seconds"] > 1.0:  # when the first progress element showed
        text += " np" if result["progress"] is None else f" p{result['progress']:.1f}"
    if result["exception"]:
        text += " EXC"
    elif result["errors"]:
        text += " err"
    if result["developer"]:
        text += " dev"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ml-latest-small",
                        help=f"dataset folder under RECSYS_DATA_DIR, or {GENERATED}")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds to wait for a page to settle")
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--runs", type=Path, default=None,
                        help="a run store this script filled before (skips the training)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="every-page-"))
    runs = args.runs or out / "runs"
    runs.mkdir(exist_ok=True)
    print(f"bench folder: {out}", flush=True)
    if args.data == GENERATED:
        data_root = out / "data"
        data_root.mkdir()
        data = generated_catalogue(data_root)
    else:
        data_root = Path(os.environ.get("RECSYS_DATA_DIR", ROOT / "data"))
        data = data_root / args.data
    from recsys_core.data.discovery import load_dataset

    dataset = load_dataset(data, cache=False)
    print(f"{args.data}: {dataset.n_users:,} users x {dataset.n_items:,} items, "
          f"{dataset.ratings.nnz:,} ratings", flush=True)
    if args.runs is None:
        trained = train_every_kind(data, runs)
    else:
        from recsys_core.models import trainable_models

        trained = {k: float("nan") for k in trainable_models()}
    kinds = [k for k in trained if not args.kinds or k in args.kinds.split(",")]

    url, proc = start_server(runs, out / "server.log", timeout=180,
                             extra_env={"RECSYS_DATA_DIR": str(data_root)})
    results: dict[tuple[str, str], dict] = {}
    loads = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            context = browser.new_context(viewport={"width": 1280, "height": 2400})
            pg = context.new_page()
            pg.set_default_timeout(args.timeout * 1000)
            for kind in kinds:
                for page in PAGES:
                    result = open_page(pg, page_url(url, page, args.data, kind), args.timeout)
                    results[page, kind] = result
                    loads.append(os.getloadavg()[0])
                    print(f"{kind} / {page}: {cell(result)}"
                          + (f" [{result['errors']}]" if result["errors"] else "")
                          + (f" [{result['developer']}]" if result["developer"] else ""),
                          flush=True)
            browser.close()
    finally:
        stop_server(proc)

    print(f"\nEvery page x every model kind on {args.data} ({dataset.n_users:,} x "
          f"{dataset.n_items:,}), 1280 px; load average {min(loads):.1f}-{max(loads):.1f} "
          f"(mean {sum(loads) / len(loads):.1f}) on {os.cpu_count()} cores; seconds from the "
          f"navigation to settled. On a page that took longer than 1 s, p<s>: seconds to the "
          f"first progress element (spinner, progress bar, running status), np: none at all; "
          f"EXC: exception; err: error box; dev: developer text.")
    if args.runs is not None:
        print(f"runs reused from {args.runs}")
    else:
        print("training (CLI, s): " + ", ".join(f"{k} {s:.0f}" + (f" ({EPOCHS[k]} epochs)"
                                                                  if k in EPOCHS else "")
                                                 for k, s in trained.items()))
    print("| page | " + " | ".join(kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    for page in PAGES:
        print(f"| {page} | " + " | ".join(cell(results[page, k]) for k in kinds) + " |")
    details = [(page, kind, r) for (page, kind), r in results.items()
               if r["errors"] or r["developer"]]
    for page, kind, r in details:
        print(f"- {page} / {kind}: {r['errors']} {r['developer']}".rstrip())
    print(f"server log: {out / 'server.log'}")
    failed = [key for key, r in results.items()
              if r["exception"] or not r["settled"] or r["seconds"] > TARGET]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
