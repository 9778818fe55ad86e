"""The Train, Embeddings and Similarity pages at ml-25m's size (issue 11), through the real pages.

    python benchmarks/bench_app_train_scale.py --data /tmp/ml-25m-like [--skip-full-map]
        [--neural-users 3200] [--repeats 3]

``--data`` is a MovieLens "latest"-format folder (ml-25m's shape: 162,541 users x 59,047 items x
~23M ratings); it is only read (a symlink to it goes into a temporary RECSYS_DATA_DIR, the run
store and the dataset cache into a temporary folder). Every page runs under
``streamlit.testing.v1.AppTest`` in this process, so times are the server side of a page run
(the browser adds drawing). Prints:

1. Train page, WALS defaults: the first load, then click -> saved run (the page waits for its
   job), with the job's stage timeline (split, fit with its first iteration, evaluation on the
   fixed sample of test users, save) as the progress bar shows it.
2. Softmax and two-tower: one epoch on ``--neural-users`` users sampled from the training data
   (the whole item catalogue), extrapolated to all users, next to the estimate the Train page
   shows before training.
3. Embeddings page (UMAP, default knobs): the first load (it returns with the sampled map of the
   5,000 most-rated items), the full map of all items computed in the background, the page with
   the full map, and an interaction (the colour picker).
4. Similarity page: the first load, and interactions (top-k and alpha sliders, ``--repeats``
   times each).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def _env(work: Path, data: Path) -> str:
    """Temporary data dir (a symlink to ``data``), run store and cache; returns the source key."""
    data_dir = work / "data"
    data_dir.mkdir()
    (data_dir / data.name).symlink_to(data.resolve(), target_is_directory=True)
    os.environ["RECSYS_DATA_DIR"] = str(data_dir)
    os.environ["RECSYS_RUNS_DIR"] = str(work / "runs")
    os.environ["RECSYS_CACHE_DIR"] = str(work / "cache")
    os.environ["RECSYS_PRECOMPUTE_UMAP"] = "0"  # the Embeddings section times its own maps
    from ui import data as ui_data

    names = ui_data.found_datasets()
    key = next((k for k, p in names.items() if Path(p).resolve() == data.resolve()), None)
    if key is None:
        sys.exit(f"{data} is not recognised as a MovieLens folder (found {names})")
    return key


def _open(page: str, **query):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=3600)
    for k, v in query.items():
        at.query_params[k] = v
    start = time.perf_counter()
    at.run()  # the home page (loads the dataset the first time), then the page itself
    at.switch_page(page).run()
    seconds = time.perf_counter() - start
    _check(at)
    return at, seconds


def _check(at) -> None:
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    if at.error:
        raise RuntimeError([e.value for e in at.error])


def _timed(at) -> float:
    start = time.perf_counter()
    at.run()
    _check(at)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- 1. Train
def train_section(key: str) -> str:
    from ui import training

    timeline = []
    start = [0.0]
    original_report, original_callback = training.TrainingJob.report, training.TrainingJob._callback

    def report(self, stage, fraction=None, note=""):
        original_report(self, stage, fraction, note)
        if not timeline or timeline[-1][1] != stage:
            timeline.append((time.perf_counter() - start[0], stage, note))

    def callback(self, progress):
        if progress.epoch == 1:
            timeline.append((time.perf_counter() - start[0], "training", "first iteration done"))
        return original_callback(self, progress)

    original_run = training.TrainingJob._run

    def run(self):
        original_run(self)
        timeline.append((time.perf_counter() - start[0], "job done", "run saved"))

    training.TrainingJob.report, training.TrainingJob._callback = report, callback
    training.TrainingJob._run = run
    at, first = _open("pages/2_Train.py", data=key)
    at.selectbox(key="_w_model").set_value("wals").run()
    start[0] = time.perf_counter()
    at.button(key="train").click().run()
    total = time.perf_counter() - start[0]
    _check(at)
    training.TrainingJob.report, training.TrainingJob._callback = original_report, \
        original_callback
    training.TrainingJob._run = original_run
    saved = [s.value for s in at.success if s.value.startswith("Saved run")]
    name = saved[0].split("**")[1]
    knobs = []  # interactions after the run: hyperparameter changes (the saved run shown)
    for factors in (32, 48, 64):
        at.number_input(key="_w_hp_wals_factors").set_value(factors)
        knobs.append(_timed(at))
    caption = next((c.value for c in at.caption if c.value.startswith("Averaged over")), "")
    print("\n1. Train page, WALS defaults")
    print(f"   first load of the app and the page (the dataset's first load: its binary cache "
          f"is cold in a new temporary folder) {first:8.1f} s")
    print(f"   click -> saved run {name:<30} {total:8.1f} s")
    print("   stage timeline (s after the click):")
    for t, stage, note in timeline:
        print(f"   {t:8.1f}  {stage}{(': ' + note) if note else ''}")
    print(f"   {total:8.1f}  page done (run read back for its map); the page says: {caption}")
    print(f"   interaction afterwards (a hyperparameter), median of {len(knobs)}   "
          f"{statistics.median(knobs):8.2f} s")
    return name


# ---------------------------------------------------------------------------- 2. neural
def neural_section(key: str, n_users: int) -> None:
    from recsys_core.evaluation.split import holdout_split
    from recsys_core.models import MODEL_REGISTRY
    from ui import data as ui_data

    dataset = ui_data.dataset_at(ui_data.found_datasets()[key],
                                 os.path.getmtime(ui_data.found_datasets()[key]))
    train = holdout_split(dataset, 0.2, seed=0).train
    rng = np.random.default_rng(0)
    users = rng.choice(train.n_users, min(n_users, train.n_users), replace=False)
    keep = np.zeros(train.n_users, bool)
    keep[users] = True
    part = train.select_entries(keep[train.entry_users])
    print(f"\n2. One epoch of the neural models: {len(users):,} of {train.n_users:,} users "
          f"({part.n_ratings:,} ratings), all {train.n_items:,} items; extrapolated x "
          f"{train.n_users / len(users):.1f}")
    print(f"   {'model':<10} {'measured s':>10} {'epoch, extrapolated':>20} "
          f"{'estimate shown':>15} {'default fit':>12}")
    for kind in ("softmax", "two-tower"):
        model = MODEL_REGISTRY[kind](epochs=1)
        start = time.perf_counter()
        model.fit(part)
        seconds = time.perf_counter() - start
        full = seconds * train.n_users / len(users)
        default = MODEL_REGISTRY[kind]()
        estimate = default.estimate_epoch_seconds(train.n_users, train.n_items, train.n_ratings)
        print(f"   {kind:<10} {seconds:10.1f} {full / 60:16.1f} min {estimate / 60:11.1f} min "
              f"{full * default.epochs / 3600:9.1f} h")


# ---------------------------------------------------------------------------- 3. Embeddings
def embeddings_section(key: str, run: str, full_map: bool) -> None:
    from ui import projections

    at, first = _open("pages/3_Embeddings.py", data=key, run=run, proj="umap")
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    sampled = any("Sampled map" in t for t in titles)
    colour = _timed_choice(at, "colour", "norm")
    print("\n3. Embeddings page, UMAP (default knobs)")
    print(f"   first load, {'sampled map shown' if sampled else 'full map shown':<30} "
          f"{first:8.1f} s  (includes UMAP's numba compile in a new process)")
    print(f"   interaction with the sampled map (colour by norm)       {colour:8.1f} s")
    if not full_map:
        return
    start = time.perf_counter()
    for job in list(projections._registry().jobs.values()):
        job.result()
    background = time.perf_counter() - start
    print(f"   full map of all items, in the background, after that    {background:8.1f} s")
    shown = _timed(at)
    print(f"   page run with the full map                              {shown:8.1f} s")
    print(f"   interaction with the full map (colour by popularity)    "
          f"{_timed_choice(at, 'colour', 'popularity'):8.1f} s")


def _timed_choice(at, key: str, value) -> float:
    widget = at.selectbox(key=f"_w_{key}")
    widget.set_value(value)
    return _timed(at)


# ---------------------------------------------------------------------------- 4. Similarity
def similarity_section(key: str, run: str, repeats: int) -> None:
    at, first = _open("pages/4_Similarity.py", data=key, run=run)
    times = {"top-k slider": [], "alpha slider": []}
    for i in range(repeats):
        at.slider(key="_w_k").set_value(10 + i + 1)
        times["top-k slider"].append(_timed(at))
        at.slider(key="_w_alpha").set_value(round(0.55 + 0.05 * i, 2))
        times["alpha slider"].append(_timed(at))
    print("\n4. Similarity page (a user query)")
    print(f"   first load                                              {first:8.1f} s")
    for name, values in times.items():
        print(f"   {name:<20} median of {len(values)}                         "
              f"{statistics.median(values):8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--neural-users", type=int, default=3200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full-map", action="store_true")
    parser.add_argument("--only", choices=("train", "neural", "embeddings", "similarity"),
                        action="append", help="sections to run (default: all)")
    args = parser.parse_args()
    only = set(args.only or ("train", "neural", "embeddings", "similarity"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="bench-app-scale-") as tmp:
        key = _env(Path(tmp), args.data)
        run = train_section(key) if only & {"train", "embeddings", "similarity"} else None
        if "neural" in only:
            neural_section(key, args.neural_users)
        if "embeddings" in only:
            embeddings_section(key, run, not args.skip_full_map)
        if "similarity" in only:
            similarity_section(key, run, args.repeats)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
