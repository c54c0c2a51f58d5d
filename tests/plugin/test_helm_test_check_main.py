"""The in-cluster check's command line, run in this process (the standalone run in
test_helm_test_check.py is a child process, which the mutation run cannot see into)."""

from __future__ import annotations

import pytest
from wandb_launch.chartfiles import helm_test_check

from ..paths import CHART

check = helm_test_check(CHART)
NAMESPACES = ["--agent-namespace", "wandb", "--target-namespaces", "a,b"]


def test_outside_a_pod_it_says_why_it_cannot_check(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert check.main(NAMESPACES) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "selfcheck: error: KUBERNETES_SERVICE_HOST is not set: not running in a pod\n"


@pytest.mark.parametrize("missing", ["--agent-namespace", "--target-namespaces"])
def test_both_namespace_flags_are_required(missing: str, capsys) -> None:
    argv = list(NAMESPACES)
    index = argv.index(missing)
    del argv[index : index + 2]
    with pytest.raises(SystemExit) as exited:
        check.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: selfcheck ")
    assert f"the following arguments are required: {missing}" in err


def test_help_says_what_it_checks(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # argparse wraps (and splits hyphenated words) at the terminal's width
    with pytest.raises(SystemExit) as exited:
        check.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "Check this launch agent install from inside the cluster." in out
    assert "wandb-api-key-<release>" in out  # which secret --api-key-secret names
