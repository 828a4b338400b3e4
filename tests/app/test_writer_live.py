"""A dataset that a training loop is still writing (core.writer): the running app shows each new
checkpoint on its next rerun, without a restart."""

from __future__ import annotations

import numpy as np

import core

from .apptest import run_app


def test_a_view_written_while_the_app_runs_appears_on_the_next_rerun(isolated_env):
    rng = np.random.default_rng(0)
    w = core.writer(isolated_env / "training", metadata={"label": np.arange(40) % 4})
    w.add(rng.standard_normal((40, 6)), run="seed0", layer="fc", step=1)
    at = run_app()
    assert at.selectbox(key="w.dataset").value == "training"
    assert at.selectbox(key="w.view").options == ["seed0 · fc · step 1"]
    assert len(at.dataframe[0].value) == 1
    w.add(rng.standard_normal((40, 6)), run="seed0", layer="fc", step=2)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="w.view").options == ["seed0 · fc · step 1", "seed0 · fc · step 2"]
    assert list(at.dataframe[0].value["step"]) == [1, 2]
    assert not at.warning, [x.value for x in at.warning]  # new views are no "data changed" link warning


def test_a_rewritten_view_still_warns_that_the_data_changed(isolated_env):
    """Growing is not changing: a view whose numbers changed under the same name is still reported."""
    rng = np.random.default_rng(0)
    w = core.writer(isolated_env / "training")
    w.add(rng.standard_normal((40, 6)), run="seed0", layer="fc", step=1)
    at = run_app()
    assert not at.warning
    w.add(rng.standard_normal((40, 6)), run="seed0", layer="fc", step=1)
    at.run()
    assert any("changed since this link was made" in x.value for x in at.warning)
