"""The README's "Engine API" example runs as written."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def engine_api_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Engine API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_engine_api_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the example saves its run in ./my-runs
    namespace = {}
    exec(compile(engine_api_example(), "README.md (Engine API)", "exec"), namespace)
    assert namespace["items"].shape == (3, 10)
    assert namespace["metrics"]["recall@10"] > 0
    assert "val_ndcg@10" in namespace["model"].history_[-1]
    assert (tmp_path / "my-runs" / namespace["info"].name / "model.npz").is_file()
    top = namespace["top"]
    assert len(top) == 30 and set(top["rank"]) == set(range(1, 11))
