"""The Tune page's "Validation folds" input: a 2-trial WALS sweep on 2 folds saves runs whose
sweep record holds both folds' values, and the result table shows them."""
from __future__ import annotations

from recsys_core.runs.store import RunStore
from recsys_core.tuning import DEFAULT_FOLDS
from tests.app.test_app_tune import runs_dir, tune_page  # noqa: F401  (fixture)


def test_tune_page_scores_trials_on_the_chosen_folds(runs_dir):  # noqa: F811
    at = tune_page()
    assert at.number_input(key="tune_folds").value == DEFAULT_FOLDS
    at.multiselect(key="tune_params_wals").set_value(["regularization"])
    at.number_input(key="tune_trials").set_value(2)
    at.number_input(key="tune_folds").set_value(3)
    at.radio(key="tune_strategy").set_value("random")
    at.run()
    at.button(key="tune_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    infos = RunStore(runs_dir).list()
    assert len(infos) == 2 and all(i.sweep["folds"] == 3 for i in infos)
    assert all(len(i.sweep["fold_values"]) == 3 for i in infos)
    table = at.dataframe[0].value
    assert {"ndcg@10 fold 1", "ndcg@10 fold 3"} <= set(table.columns)
