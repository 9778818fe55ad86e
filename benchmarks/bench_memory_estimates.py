"""Each model's memory estimate (``estimate_fit_bytes``) against the peak memory its fit really uses.

The memory budget (recsys_core.memory) refuses a fit whose estimate exceeds it, so an estimate must
not be below the real peak, and should not be far above it. Each fit runs on MovieLens 100K in a
fresh subprocess after a small warm-up fit (numba compilation and imports are not the fit's data):
the peak resident set growth (VmHWM after resetting it through /proc/self/clear_refs, Linux only,
so numba's and LAPACK's allocations count too) is compared with the estimate.

    RECSYS_DATA_DIR=../shared/data python benchmarks/bench_memory_estimates.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [("wals", {"factors": 1024, "iterations": 2}),
         ("mf", {"factors": 1024, "epochs": 2}),
         ("svd", {"factors": 512}),
         ("ease", {}),
         ("softmax", {"factors": 2048, "epochs": 1, "patience": None}),
         ("two-tower", {"factors": 2048, "epochs": 1, "patience": None}),
         ("content", {}),
         ("popularity", {})]

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from recsys_core.data import load_movielens_100k
from recsys_core.models import MODEL_REGISTRY

kind, params = sys.argv[2], json.loads(sys.argv[3])
data = load_movielens_100k(sys.argv[4])
warm = {k: v for k, v in params.items() if k != "factors"}
MODEL_REGISTRY[kind](**warm, **({"factors": 4} if "factors" in params else {})).fit(data)

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the current resident set
base = status("VmRSS")
model = MODEL_REGISTRY[kind](**params)
estimate = model.estimate_fit_bytes(data.n_users, data.n_items, data.ratings.nnz)
model.fit(data)
print(json.dumps({"measured": status("VmHWM") - base, "estimate": estimate}))
"""


def main():
    from recsys_core.memory import format_bytes

    root = os.environ.get("RECSYS_DATA_DIR")
    folder = Path(root or "data") / "ml-100k"
    if not (folder / "u.data").is_file():
        sys.exit(f"MovieLens 100K not found in {folder}: set RECSYS_DATA_DIR")
    print(f"{'model':10} {'settings':50} {'measured':>10} {'estimate':>10} {'ratio':>6}")
    for kind, params in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), kind, json.dumps(params),
                              str(folder)], capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        # below a MiB the freed memory the fit reuses hides its growth: no meaningful ratio
        ratio = (f"{result['estimate'] / result['measured']:6.2f}"
                 if result["measured"] >= 1024 ** 2 else f"{'-':>6}")
        print(f"{kind:10} {json.dumps(params):50} {format_bytes(result['measured']):>10} "
              f"{format_bytes(result['estimate']):>10} {ratio}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
