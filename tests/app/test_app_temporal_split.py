"""The Train page offers the global temporal split; the run it trains names it in words on the
Train page, in run labels and in the Compare runs table."""
from recsys_core.runs.store import RunStore


def test_train_page_offers_the_temporal_split_and_the_run_is_described_by_it(train_page,
                                                                            tmp_path):
    at = train_page("popularity")
    split = at.selectbox(key="_w_split")
    assert any(o.startswith("Global temporal split") for o in split.options)
    split.set_value("temporal").run()
    assert not at.exception, [e.value for e in at.exception]
    # Said before training: the cut-off and what the model will not be able to score.
    note = next(c.value for c in at.caption if "global temporal split at" in c.value)
    assert "not scorable" in note and "new users" in note
    # The share after the cut-off is the person's to choose; the cut-off moves with it.
    at.slider(key="_w_cutoff_pct").set_value(30).run()
    later = next(c.value for c in at.caption if "global temporal split at" in c.value)
    assert later != note and not at.exception
    at.button(key="train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    info = RunStore(tmp_path / "runs").list()[0]
    assert info.split["params"]["method"] == "temporal" and "cutoff" in info.split["params"]
    assert info.split["params"]["test_fraction"] == 0.3
    evaluation = next(m.value for m in at.markdown if m.value.startswith("**Evaluation**"))
    assert "a global temporal split at" in evaluation and "not scorable" in evaluation
    assert any("temporal split at" in o for o in at.selectbox(key="_w_run").options)

    at.switch_page("pages/6_Compare_runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "test split" in d.value.columns)
    described = table.loc[table["run"] == info.name, "test split"].iloc[0]
    assert described.startswith("a global temporal split at") and "new users" in described
