"""The app at MovieLens-25M scale in headless Chromium: page times, the server's peak RSS, and
where its memory goes.

    python benchmarks/bench_app_scale.py --data /tmp/ml-25m-like --run /tmp/h11ui/runs/wals25m

``--data`` is a MovieLens folder (the ml-25m-shaped one of benchmarks/bench_scale.py, or a real
release); ``--run`` a WALS run trained on it with
``python -m recsys_core train --model wals --data DIR --out RUN`` (without ``--run`` the benchmark
trains one into its temporary folder first, which takes minutes). The dataset folder is only read.

Starts ``streamlit run app.py`` on a free loopback port (``RECSYS_DATA_DIR``: a temporary folder
with a link to ``--data``; ``RECSYS_RUNS_DIR``: the run's parent folder; a fresh binary dataset
cache unless ``--cache-dir``), then in one browser session:

1. Data page, first load (cold: parses the text files and writes the binary cache), and when the
   first sign of progress (spinner, progress bar) appeared; then a genre picked in the sidebar
   filter, three times (each a new filter: the counts behind the charts are recomputed);
2. Recommend page through the sidebar link (first load: the run is read), then a re-ranking knob
   (popularity penalty) moved with the arrow key;
3. Similarity page, then its Top-k slider;
4. Embeddings page (the sampled map), then "Colour by" changed.

An interaction's time runs from the key press or pointer press to the end of the script run it
causes (the app root's ``data-test-script-state`` back at "notRunning"); a first load's from the
link's pointer press (or the navigation) to the end of the page's run. Target (issue 11): every
interaction <= 2 s.

Memory: the server's resident set is sampled every 0.1 s; the peak is the kernel's VmHWM. At the
end the server writes a breakdown (a ``sitecustomize`` hook installed only for this run answers
SIGUSR1): the bytes reachable from each Streamlit cache function, from the sessions' states and
from the app's module globals (NumPy arrays counted once, by their memory buffer; pandas by
``memory_usage(deep=True)``), attributed to the first place that reaches them, in that order.
What is left is the interpreter and libraries, numba's compiled code, and memory freed by Python
but kept by the allocator.

Needs chromium at /usr/bin/chromium and the playwright package (no browser download).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from browser_support import ARM, CHROMIUM, CHROMIUM_FLAGS, start_server, stop_server  # noqa: E402

TARGET_S = 2.0


# Written as sitecustomize.py into a folder put first on the server's PYTHONPATH: on SIGUSR1 the
# server writes the breakdown of what its caches, sessions and module globals hold.
MEMORY_HOOK = r'''
import os, signal, sys

def _breakdown(*_):
    import gc, json, types, threading
    import numpy as np
    try:
        import pandas as pd
    except ImportError:
        pd = None
    seen = set()

    def size(root):
        total, stack = 0, [root]
        while stack:
            o = stack.pop()
            if id(o) in seen:
                continue
            seen.add(id(o))
            if isinstance(o, np.ndarray):
                base = o
                while isinstance(base.base, np.ndarray):
                    base = base.base
                if base is not o:
                    stack.append(base)
                elif base.base is None:
                    total += base.nbytes
                elif id(base.base) not in seen:  # a view of another buffer (mmap, bytes)
                    seen.add(id(base.base))
                    total += base.nbytes
                continue
            if isinstance(o, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                              types.MethodType, threading.Thread)) or callable(o) and not hasattr(o, "__dict__"):
                continue
            if pd is not None and isinstance(o, (pd.DataFrame, pd.Series, pd.Index)):
                total += int(np.sum(o.memory_usage(deep=True)))
                continue
            total += sys.getsizeof(o, 0)
            if isinstance(o, dict):
                stack.extend(list(o.keys()) + list(o.values()))
            elif isinstance(o, (list, tuple, set, frozenset)):
                stack.extend(list(o))
            else:
                d = getattr(o, "__dict__", None)
                if isinstance(d, dict):
                    stack.append(d)
                for slot in getattr(type(o), "__slots__", ()) or ():
                    if isinstance(slot, str) and hasattr(o, slot):
                        stack.append(getattr(o, slot))
        return total

    def parts(obj, label, depth, out):
        """Bytes of obj's attributes (3 levels down), then of what is left of obj."""
        d = getattr(obj, "__dict__", None)
        if depth < 3 and isinstance(d, dict) and not isinstance(obj, np.ndarray) and not (
                pd is not None and isinstance(obj, (pd.DataFrame, pd.Series, pd.Index))):
            for key, value in list(d.items()):
                parts(value, f"{label}.{key}", depth + 1, out)
        rest = size(obj)
        if rest:
            out[label] = out.get(label, 0) + rest

    out, details = {}, {}
    try:
        from streamlit.runtime.caching import cache_resource_api, cache_data_api
        for label, caches in (("cache_resource", cache_resource_api._resource_caches),
                              ("cache_data", cache_data_api._data_caches)):
            for by_session in list(caches._function_caches.values()):
                for cache in list(by_session.values()):
                    name = f"{label} {getattr(cache, 'display_name', '?')}"
                    mem = getattr(cache, "_mem_cache", None)
                    if mem is None:
                        mem = getattr(getattr(cache, "storage", None), "_mem_cache", {})
                    split = details.setdefault(name, {})
                    for entry in list(mem.values()):
                        value = getattr(entry, "value", entry)
                        parts(value, type(value).__name__, 0, split)
                    out[name] = sum(split.values())
    except Exception as exc:  # a Streamlit internals change: say so rather than guess
        out["(cache walk failed: %s)" % exc] = 0
    try:
        from streamlit.runtime import Runtime
        sessions = [s.session for s in Runtime.instance()._session_mgr.list_sessions()]
        out["session states (%d sessions)" % len(sessions)] = size(
            [s.session_state for s in sessions])
    except Exception as exc:
        out["(session walk failed: %s)" % exc] = 0
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("ui", "recsys_core") and module is not None:
            n = size(list(vars(module).values()))
            if n > 1 << 20:
                out["module globals " + name] = n
    def rss():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))

    before = rss()
    try:  # what the allocator kept after Python freed it, handed back to the system now
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    modules = sorted({n.split(".")[0] for n in list(sys.modules)
                      if not n.startswith("_") and n.split(".")[0] not in
                      ("ui", "recsys_core", "sitecustomize", "__main__")})
    with open(os.environ["RECSYS_BENCH_MEMORY_OUT"], "w") as f:
        json.dump({"totals": out, "details": details, "rss_before_trim": before,
                   "rss_after_trim": rss(), "modules": modules}, f)

if os.environ.get("RECSYS_BENCH_MEMORY_OUT"):
    signal.signal(signal.SIGUSR1, _breakdown)
'''


class RssSampler(threading.Thread):
    """Samples a process's resident set every ``every`` seconds (MB)."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop_flag = pid, every, [], threading.Event()

    def status(self, field: str) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def run(self):
        while not self.stop_flag.is_set():
            try:
                self.samples.append((time.monotonic(), self.status("VmRSS")))
            except (OSError, ValueError):
                return
            time.sleep(self.every)

    def now(self) -> float:
        return self.status("VmRSS")


def _state(pg) -> str | None:
    return pg.evaluate("document.querySelector('[data-testid=\"stApp\"]')"
                       "?.getAttribute('data-test-script-state')")


def quiet(pg, timeout: float = 600.0, calm: float = 1.0) -> None:
    """Until the script has not been running for ``calm`` seconds."""
    deadline, calm_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        busy = (_state(pg) != "notRunning"
                or pg.locator('[data-testid="stSkeleton"]').count() > 0)
        if busy:
            calm_since = None
        elif calm_since is None:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since > calm:
            return
        time.sleep(0.05)


def timed(pg, action, timeout_s: float = 120.0) -> float | None:
    """Seconds from the input ``action`` performs to the end of the script run it causes."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    pg.evaluate(ARM.strip())
    action()
    try:
        pg.wait_for_function("window.__latency !== null", timeout=timeout_s * 1000, polling=20)
    except PlaywrightTimeout:
        return None
    return float(pg.evaluate("window.__latency")) / 1000


def errors_on(pg) -> str | None:
    exc = pg.locator('[data-testid="stException"]')
    return exc.first.inner_text()[:300] if exc.count() else None


def first_load(pg, url: str) -> tuple[float, float | None, float | None]:
    """Seconds until the page's run ended, until its title showed, and until a spinner or
    progress bar showed (None: never seen, e.g. the load was too quick for a spinner)."""
    t0 = time.monotonic()
    pg.goto(url)
    feedback = title = None
    pg.wait_for_selector('[data-testid="stApp"]', timeout=600_000)
    seen_running = False
    while time.monotonic() - t0 < 900:
        if feedback is None and pg.locator('[data-testid="stSpinner"], '
                                           '[data-testid="stProgress"]').count():
            feedback = time.monotonic() - t0
        if title is None and pg.locator('[data-testid="stMain"] h1').count():
            title = time.monotonic() - t0
        state = _state(pg)
        seen_running |= state == "running"
        if seen_running and state == "notRunning" and pg.locator(
                '[data-testid="stMain"] h1').count():
            break
        time.sleep(0.05)
    return time.monotonic() - t0, title, feedback


def open_by_link(pg, label: str) -> float | None:
    link = pg.locator('[data-testid="stSidebar"] a').filter(has_text=label).first
    return timed(pg, link.click, timeout_s=900)


def pick_option(pg, widget_label: str, option: str, sidebar: bool = True) -> float | None:
    """Open a selectbox / multiselect by its label, then time the click on ``option``."""
    scope = pg.locator('[data-testid="stSidebar"]') if sidebar else pg.locator('[data-testid="stMain"]')
    box = scope.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has_text=widget_label).first
    box.locator("input").first.click()  # not the box's centre: a chosen tag may sit there
    pg.keyboard.type(option)  # the list is virtual: filter it down to the option
    choice = pg.locator('[role="option"]').filter(
        has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first
    choice.wait_for(timeout=30_000)
    return timed(pg, choice.click)


def press_slider(pg, label: str, key: str = "ArrowRight") -> float | None:
    thumb = pg.locator('[data-testid="stSlider"]').filter(has_text=label).locator(
        'input[type="range"]').first
    thumb.focus()
    return timed(pg, lambda: thumb.press(key))


def options_of(pg, widget_label: str, sidebar: bool = True) -> list[str]:
    scope = pg.locator('[data-testid="stSidebar"]') if sidebar else pg.locator('[data-testid="stMain"]')
    box = scope.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has_text=widget_label).first
    box.click()
    pg.locator('[role="option"]').first.wait_for(timeout=30_000)
    texts = [t.strip() for t in pg.locator('[role="option"]').all_inner_texts()]
    pg.keyboard.press("Escape")
    return texts


def libraries_rss(modules: list[str]) -> float:
    """MB resident in a new Python process that imports ``modules`` (those that import alone)."""
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n"
            "    try:\n        importlib.import_module(m)\n    except BaseException:\n"
            "        pass\n"
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') "
            "if l.startswith('VmRSS:')) / 1024)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        return float(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return float("nan")


def train_run(data: Path, runs: Path) -> Path:
    out = runs / "wals-bench"
    print(f"training WALS on {data} (minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "recsys_core", "train", "--model", "wals",
                    "--data", str(data), "--out", str(out)], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="MovieLens folder (read only)")
    parser.add_argument("--run", type=Path, help="run folder trained on --data (else trained)")
    parser.add_argument("--cache-dir", type=Path,
                        help="binary dataset cache to use (default: a fresh one: a cold load)")
    parser.add_argument("--repeats", type=int, default=3, help="interactions per page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data = args.data.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-app-scale-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "data").mkdir()
        (tmp / "data" / data.name).symlink_to(data)
        run = args.run.resolve() if args.run else train_run(data, tmp / "runs")
        hook = tmp / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(MEMORY_HOOK)
        breakdown_file = tmp / "memory.json"
        env = {"RECSYS_DATA_DIR": str(tmp / "data"),
               "RECSYS_CACHE_DIR": str(args.cache_dir or tmp / "cache"),
               "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}",
               "RECSYS_BENCH_MEMORY_OUT": str(breakdown_file)}
        cache_state = ("warm" if args.cache_dir and args.cache_dir.is_dir()
                       and any(args.cache_dir.iterdir()) else "cold")
        url, proc = start_server(run.parent, tmp / "server.log", env, timeout=180)
        sampler = RssSampler(proc.pid)
        rss_start = sampler.now()
        sampler.start()
        rows, rss_after = [], {}
        query = f"?data={data.name}&run={run.name}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                pg = browser.new_page(viewport={"width": 1400, "height": 1600})
                pg.set_default_timeout(600_000)

                load, title, feedback = first_load(pg, f"{url}/Data{query}")
                rows.append(("Data", f"first load ({cache_state} dataset cache)", [load]))
                rows.append(("Data", "title and lesson shown after", [title]))
                rows.append(("Data", "loading spinner shown after", [feedback]))
                quiet(pg)
                rss_after["Data"] = sampler.now()
                offered = options_of(pg, "Genres")
                genres = ([g for g in ("Drama", "Comedy", "Action", "Thriller") if g in offered]
                          or [g for g in offered if g != "Select all"])[:args.repeats]
                quiet(pg, calm=0.3)
                samples = []
                for genre in genres:
                    samples.append(pick_option(pg, "Genres", genre))
                    pg.keyboard.press("Escape")  # close the list if it stayed open
                    quiet(pg, calm=0.5)
                rows.append(("Data", "add a genre to the filter", samples))

                for page, knob in (("Recommend", "Popularity penalty"), ("Similarity", "Top-k")):
                    rows.append((page, "first load", [open_by_link(pg, page)]))
                    quiet(pg)
                    rss_after[page] = sampler.now()
                    samples = []
                    for n in range(args.repeats):
                        samples.append(press_slider(pg, knob))
                        quiet(pg, calm=0.5)
                    rows.append((page, f"move '{knob}'", samples))

                rows.append(("Embeddings", "first load (sampled map)",
                             [open_by_link(pg, "Embeddings")]))
                quiet(pg)
                rss_after["Embeddings"] = sampler.now()
                colours = options_of(pg, "Colour by")
                samples = []
                for colour in (colours[1:] + colours[:1])[:args.repeats]:
                    samples.append(pick_option(pg, "Colour by", colour))
                    quiet(pg, calm=0.5)
                rows.append(("Embeddings", "change 'Colour by'", samples))
                problem = errors_on(pg)
                browser.close()
            os.kill(proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 120
            while not breakdown_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)
            peak = sampler.status("VmHWM")
            rss_end = sampler.now()
        finally:
            sampler.stop_flag.set()
            stop_server(proc)
        report = json.loads(breakdown_file.read_text()) if breakdown_file.exists() else {}
        libraries = libraries_rss(report.get("modules", []))

    print(f"\nApp at scale: {data.name}, run {run.name}; machine load {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores (timings are one browser session; load makes them noisy)")
    print(f"| {'page':<11}| {'step':<36}| {'median s':>9} | {'max s':>7} | {'n':>2} | target |")
    print(f"|{'-' * 12}|{'-' * 37}|{'-' * 11}|{'-' * 9}|{'-' * 4}|--------|")
    for page, step, samples in rows:
        values = [v for v in samples if v is not None]
        target = ("<= 1" if "shown after" in step  # issue 11: progress from the first second
                  else "" if "first" in step else f"<= {TARGET_S:g}")
        if not values:
            print(f"| {page:<11}| {step:<36}| {'-':>9} | {'-':>7} | {0:>2} | {target:<6} |")
            continue
        print(f"| {page:<11}| {step:<36}| {statistics.median(values):9.2f} | {max(values):7.2f} "
              f"| {len(values):>2} | {target:<6} |")
    if problem:
        print(f"an exception was shown on the last page: {problem}")

    print(f"\nServer RSS (MB): at start {rss_start:,.0f}; after "
          + ", ".join(f"{k} {v:,.0f}" for k, v in rss_after.items())
          + f"; at the end {rss_end:,.0f}; peak (VmHWM) {peak:,.0f} (target < 4,096)")
    print("\nWhere the server's memory goes at the end (MB; bytes reachable from each place, "
          "each buffer counted once, in this order):")
    totals, details = report.get("totals", {}), report.get("details", {})
    attributed = 0
    for name, nbytes in sorted(totals.items(), key=lambda kv: -kv[1]):
        attributed += nbytes
        if nbytes < 1 << 20 and not name.startswith("("):
            continue
        print(f"  {nbytes / 2**20:9,.0f}  {name}")
        for part, n in sorted(details.get(name, {}).items(), key=lambda kv: -kv[1]):
            if n >= 4 << 20:
                print(f"  {'':9}  {n / 2**20:7,.0f}  {part}")
    if report:
        before, after = report["rss_before_trim"] / 2**20, report["rss_after_trim"] / 2**20
        print(f"  {libraries:9,.0f}  interpreter and the {len(report['modules'])} packages the "
              "server imported (a new process importing them)")
        print(f"  {before - after:9,.0f}  freed by Python but kept by the allocator (returned "
              "by malloc_trim at the end)")
        print(f"  {after - attributed / 2**20 - libraries:9,.0f}  the rest: compiled numba "
              "code, Streamlit's own state, fragmentation")
        print(f"  {before:9,.0f}  resident set at the end, before malloc_trim")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
