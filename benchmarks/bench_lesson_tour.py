"""Issue 20's tour: every Home lesson, followed in order in headless Chromium on a catalogue the
CI does not have (MovieLens latest-small: 671 users x 9,125 movies), after a default WALS and a
default EASE were trained on it.

    RECSYS_DATA_DIR=/work/realdata python benchmarks/bench_lesson_tour.py [--data ml-latest-small]

Setup (before the server starts, through the engine's CLI, as a course's preparation would):
``python -m recsys_core train --model wals`` and then ``--model ease``, both with their defaults
on the lessons' split (``--holdout 0.2 --seed 0``), saved into a temporary run store
(``RECSYS_RUNS_DIR``). Then ``streamlit run app.py`` on a free loopback port, and in one browser
session at 1280 px: Home with ``?data=<name>``, then for each lesson of Home's "Lessons, one
click away", in order: click its link; when the page offers to train the lesson's missing runs,
click that button as a teacher would; back to Home through the sidebar.

For each lesson it prints the seconds from the link's click to the page settled (the app root's
``data-test-script-state`` "notRunning", no running status widget, no skeleton, no stale element,
for 1 s), the seconds of the one-click training when there was one (from the button's click to
settled), the total against the 60 s target, whether an exception (``stException``) or an error
box appeared, and developer text found in the page's visible text or table cells (Sphinx roles,
double backquotes, source paths, tracebacks, OS errors, machine paths, a cell reading "None"),
and a full-page screenshot path (a temporary folder, kept).

Needs chromium at /usr/bin/chromium and the playwright package (no browser download).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from browser_support import CHROMIUM, CHROMIUM_FLAGS, start_server, stop_server  # noqa: E402

TARGET = 60.0
DEVELOPER_TEXT = [
    (":meth:", re.compile(r":(?:meth|func|class|mod|attr|data):")),
    ("``", re.compile(r"``")),
    ("benchmarks/", re.compile(r"benchmarks/")),
    (".py", re.compile(r"\b\w+\.py\b")),
    ("Traceback", re.compile(r"Traceback")),
    ("Errno", re.compile(r"Errno")),
    ("/work/", re.compile(r"/work/")),
    ("/root/", re.compile(r"/root/")),
    ("/tmp/", re.compile(r"/tmp/")),
]

STATE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app ? app.getAttribute('data-test-script-state') : null;
}"""

CELLS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] table[role="grid"] td,'
                  + '[data-testid="stTable"] td')].map(td => td.textContent.trim())"""


def busy(pg) -> bool:
    return (pg.evaluate(STATE) != "notRunning"
            or pg.locator('[data-testid="stStatusWidget"]').count() > 0
            or pg.locator('[data-testid="stSkeleton"]').count() > 0
            or pg.locator('[data-stale="true"]').count() > 0)


def wait_settled(pg, t0: float, timeout: float = 600, calm: float = 1.0) -> float:
    """Seconds from ``t0`` until the page has been quiet for ``calm`` seconds (the quiet time
    not counted); ``timeout`` seconds at most (then the elapsed time)."""
    time.sleep(0.3)  # let the click reach the server
    quiet_since = None
    while time.monotonic() - t0 < timeout:
        if busy(pg):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= calm:
            return quiet_since - t0
        time.sleep(0.1)
    return time.monotonic() - t0


def problems(pg) -> tuple[str, str]:
    """(exception or error text, developer text snippets) on the page as drawn."""
    errors = []
    for sel in ('[data-testid="stException"]', '[data-testid="stAlertContentError"]'):
        for i in range(pg.locator(sel).count()):
            errors.append(pg.locator(sel).nth(i).inner_text().strip().replace("\n", " ")[:120])
    text = pg.locator('[data-testid="stMain"]').inner_text()
    text += "\n" + pg.locator('[data-testid="stSidebar"]').inner_text()
    found = []
    for label, pattern in DEVELOPER_TEXT:
        for m in pattern.finditer(text):
            start = max(0, m.start() - 40)
            found.append(text[start:m.end() + 40].replace("\n", " "))
            break
    for line in text.splitlines():
        if line.strip() == "None":
            found.append("a line reading 'None'")
            break
    if "Not trained yet" in text and pg.locator(".st-key-lesson_train").count() == 0:
        found.append("'Not trained yet' without a train button")
    cells = pg.evaluate(CELLS)
    nones = [c for c in cells if c in ("None", "nan", "NaN", "<NA>")]
    if nones:
        found.append(f"{len(nones)} table cell(s) reading {nones[0]!r}")
    return "; ".join(errors), " | ".join(found)


def train_defaults(data: Path, runs: Path) -> list[tuple[str, float]]:
    times = []
    for kind in ("wals", "ease"):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "recsys_core", "train", "--model", kind,
                        "--data", str(data), "--holdout", "0.2", "--seed", "0",
                        "--out", str(runs / f"{kind}-defaults")],
                       cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       stdout=subprocess.DEVNULL)
        times.append((kind, time.monotonic() - t0))
    return times


def go_home(pg, url: str, name: str) -> None:
    nav = pg.locator('[data-testid="stSidebarNav"] a').first
    if nav.count():
        nav.click()
    else:
        pg.goto(f"{url}/?data={name}")
    pg.wait_for_selector('text="Lessons, one click away"', timeout=300_000)
    wait_settled(pg, time.monotonic())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ml-latest-small",
                        help="dataset folder name under RECSYS_DATA_DIR")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from ui.lessons import LESSONS

    data_dir = Path(os.environ.get("RECSYS_DATA_DIR", ROOT / "data"))
    data = data_dir / args.data
    out = Path(tempfile.mkdtemp(prefix="lesson-tour-"))
    runs, shots = out / "runs", out / "screenshots"
    runs.mkdir()
    shots.mkdir()
    print(f"tour folder: {out}", flush=True)
    trained = train_defaults(data, runs)
    print("trained before the server: " + ", ".join(f"{k} {s:.0f} s" for k, s in trained),
          flush=True)

    url, proc = start_server(runs, out / "server.log", timeout=180)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            pg = browser.new_page(viewport={"width": args.width, "height": 2400})
            pg.set_default_timeout(300_000)
            t0 = time.monotonic()
            pg.goto(f"{url}/?data={args.data}")
            pg.wait_for_selector('text="Lessons, one click away"')
            home = wait_settled(pg, t0)
            err, dev = problems(pg)
            pg.screenshot(path=str(shots / "00-home.png"), full_page=True)
            rows.append(("Home (first load)", home, None, err, dev, shots / "00-home.png"))
            print(f"Home: {home:.1f} s", flush=True)
            for n, lesson in enumerate(LESSONS, 1):
                link = pg.locator('[data-testid="stPageLink-NavLink"]',
                                  has_text=re.compile(rf"^{re.escape(lesson.label)}$")).first
                t0 = time.monotonic()
                link.click()
                opened = wait_settled(pg, t0)
                train_s = None
                button = pg.locator(".st-key-lesson_train button")
                if button.count():
                    t1 = time.monotonic()
                    button.click()
                    train_s = wait_settled(pg, t1)
                err, dev = problems(pg)
                if train_s is not None and pg.locator(".st-key-lesson_train").count():
                    dev = "; ".join(filter(None, [dev, "the train offer is still shown after "
                                                  "training"]))
                path = shots / f"{n:02d}-{lesson.slug}.png"
                pg.screenshot(path=str(path), full_page=True)
                rows.append((lesson.label, opened, train_s, err, dev, path))
                print(f"{lesson.label}: {opened:.1f} s"
                      + (f" + train {train_s:.1f} s" if train_s is not None else ""), flush=True)
                if n < len(LESSONS):
                    go_home(pg, url, args.data)
            browser.close()
    finally:
        stop_server(proc)

    print(f"\nLesson tour on {args.data}, {args.width} px; machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; target {TARGET:.0f} s per lesson")
    print("| lesson | open s | train s | total s | <=60 s | exception | developer text | "
          "screenshot |")
    print("|---|---:|---:|---:|---|---|---|---|")
    failed = 0
    for label, opened, train_s, err, dev, path in rows:
        total = opened + (train_s or 0)
        ok = total <= TARGET and not err and not dev
        failed += not ok
        print(f"| {label} | {opened:.1f} | {'-' if train_s is None else f'{train_s:.1f}'} | "
              f"{total:.1f} | {'yes' if total <= TARGET else 'NO'} | "
              f"{'yes: ' + err if err else 'no'} | {dev or 'none'} | {path} |")
    print(f"server log: {out / 'server.log'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
