"""The in-cluster check's command line, run in this process (the standalone run in
test_helm_test_check.py is a child process, which the mutation run cannot see into)."""

from __future__ import annotations

from pathlib import Path

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


# What `kubectl logs` of a test pod run with --help shows: the whole text, as a user reads it.
HELP = """\
usage: selfcheck [-h] --agent-namespace AGENT_NAMESPACE --target-namespaces TARGET_NAMESPACES [--api-key-secret API_KEY_SECRET] [--agent-api-key-secret AGENT_API_KEY_SECRET] [--agent-api-key-secret-key AGENT_API_KEY_SECRET_KEY] [--config CONFIG]
                 [--rbac-needs RBAC_NEEDS] [--additional-services] [--output {table,json}] [--service-account-dir SERVICE_ACCOUNT_DIR]

Check this launch agent install from inside the cluster.

options:
  -h, --help            show this help message and exit
  --agent-namespace AGENT_NAMESPACE
  --target-namespaces TARGET_NAMESPACES
                        comma-separated
  --api-key-secret API_KEY_SECRET
                        the secret runs read their API key from (wandb-api-key-<release>); without it that check is skipped
  --agent-api-key-secret AGENT_API_KEY_SECRET
                        the agent's own key secret (default: --api-key-secret)
  --agent-api-key-secret-key AGENT_API_KEY_SECRET_KEY
                        the key of that secret holding the API key (default: password)
  --config CONFIG       the agent's launch config (default: ~/.config/wandb/launch-config.yaml)
  --rbac-needs RBAC_NEEDS
                        the chart's files/agent-rbac.yaml
  --additional-services
                        the release grants the SDK's additional services (rbac.additionalServices)
  --output {table,json}
                        default: table
  --service-account-dir SERVICE_ACCOUNT_DIR
                        token and ca.crt of the pod's service account
"""


def test_help_says_what_it_checks(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # argparse wraps (and splits hyphenated words) at the terminal's width
    with pytest.raises(SystemExit) as exited:
        check.main(["--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == HELP


def test_the_service_account_is_the_pods_by_default(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Without --service-account-dir it reads what the kubelet mounts in every pod."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert check.SERVICE_ACCOUNT_DIR == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert not Path(check.SERVICE_ACCOUNT_DIR).exists()  # not a pod: the error names the path
    assert check.main([*NAMESPACES, "--config", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == "selfcheck: error: [Errno 2] No such file or directory: '/var/run/secrets/kubernetes.io/serviceaccount/token'\n"


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
