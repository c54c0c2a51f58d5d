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


@pytest.mark.parametrize(
    ("host", "port", "base"),
    [("10.96.0.1", "6443", "https://10.96.0.1:6443"), ("fd00::1", "443", "https://[fd00::1]:443"), ("10.96.0.1", None, "https://10.96.0.1:443")],
    ids=["ipv4", "ipv6-in-brackets", "port-443-by-default"],
)
def test_the_api_servers_address_is_the_pods_environment(tmp_path, monkeypatch: pytest.MonkeyPatch, host, port, base) -> None:
    """What the kubelet sets (KUBERNETES_SERVICE_HOST/PORT) and mounts (token, ca.crt) make
    the address and the credentials; no request is made."""
    import shutil
    import ssl

    from wandb_launch.controlplane.pki import generate_pki

    shutil.copy(generate_pki(tmp_path / "pki", service_ip="10.96.0.1").ca.cert, tmp_path / "ca.crt")
    (tmp_path / "token").write_text("the-token\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    if port is None:
        monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    else:
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    api = check.InClusterAPI(str(tmp_path))
    assert api.base == base
    assert api.token == "the-token"
    assert isinstance(api.context, ssl.SSLContext) and api.context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in api.context.get_ca_certs()] == [((("commonName", "wandb-launch-local-ca"),),)]
