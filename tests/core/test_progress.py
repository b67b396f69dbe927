"""The --no-progress switch reaches every progress bar the suite draws."""

import pytest

from genrec_bench import progress


@pytest.fixture(autouse=True)
def restore_switch():
    # other tests call runners.run.main(... --no-progress ...), which sets the process-wide switch
    progress.hide_progress_bars(False)
    yield
    progress.hide_progress_bars(False)


def test_default_lets_tqdm_decide_and_honours_the_callers_wish():
    assert progress.tqdm_disable() is None
    assert progress.tqdm_disable(wanted=False) is True


def test_hidden_disables_every_bar():
    progress.hide_progress_bars()
    assert progress.tqdm_disable() is True
    assert progress.tqdm_disable(wanted=True) is True


def test_runner_flag_sets_the_switch(monkeypatch):
    import runners.run as run_module

    monkeypatch.setattr(run_module, "run", lambda args, argv: 0)
    assert run_module.main(["--method", "popularity", "--dataset", "amazon2014-beauty", "--no-progress"]) == 0
    assert progress.tqdm_disable() is True
