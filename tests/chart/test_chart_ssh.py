"""git.sshAuthSecrets: SSH keys for private repositories (W&B's chart calls them
sshAuthSecrets too), mounted read-only with an ssh config the chart writes. The config is
read back by the real `ssh -G`, which prints the options ssh would use for a host."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chartlib import API_KEY_PLACEHOLDER, REPO, helm_template, objects_of, one

GKE = REPO / "values" / "gke.yaml"
KEYS = [{"name": "github-deploy-key", "host": "github.com"}, {"name": "gitlab-key", "host": "*.gitlab.example.com"}]
KNOWN_HOSTS = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def render(*extra: str) -> list[dict[str, Any]]:
    result = helm_template("-f", str(GKE), "--set", f"apiKey.value={API_KEY_PLACEHOLDER}", *extra)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def with_keys(known_hosts: str = "") -> list[dict[str, Any]]:
    args = ["--set-json", f"git.sshAuthSecrets={json.dumps(KEYS)}"]
    if known_hosts:
        args += ["--set", f"git.sshKnownHosts={known_hosts}"]
    return render(*args)


def ssh_config_map(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [cm for cm in objects_of(docs, "ConfigMap") if cm["metadata"]["name"].endswith("-ssh")]
    return found


def agent_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def ssh_options(config: str, host: str, tmp_path: Path) -> dict[str, list[str]]:
    """What ssh itself makes of the rendered config for `host` (`ssh -G`: no connection)."""
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.fail("ssh is not installed (openssh-client): the rendered ssh config cannot be checked")
    path = tmp_path / "config"
    path.write_text(config)
    result = subprocess.run([ssh, "-G", "-F", str(path), host], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    options: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" ")
        options.setdefault(key, []).append(value)
    return options


def test_no_ssh_objects_without_keys() -> None:
    docs = render()
    assert not [cm for cm in objects_of(docs, "ConfigMap") if cm["metadata"]["name"].endswith("-ssh")]
    container = agent_container(docs)
    assert "GIT_SSH_COMMAND" not in {e["name"] for e in container["env"]}
    assert "ssh" not in {m["name"] for m in container["volumeMounts"]}


def test_keys_are_mounted_read_only_with_an_ssh_config(tmp_path: Path) -> None:
    docs = with_keys()
    container = agent_container(docs)
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "ssh"]
    assert mount == {"name": "ssh", "mountPath": "/etc/wandb-launch/ssh", "readOnly": True}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GIT_SSH_COMMAND"] == "ssh -F /etc/wandb-launch/ssh/config"

    volumes = one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == "ssh"]
    assert volume["projected"]["defaultMode"] == 0o440
    sources = volume["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == ssh_config_map(docs)["metadata"]["name"]
    assert [s["secret"] for s in sources[1:]] == [
        {"name": "github-deploy-key", "items": [{"key": "ssh-privatekey", "path": "id_0"}]},
        {"name": "gitlab-key", "items": [{"key": "ssh-privatekey", "path": "id_1"}]},
    ]

    config = ssh_config_map(docs)["data"]["config"]
    github = ssh_options(config, "github.com", tmp_path)
    assert github["identityfile"] == ["/etc/wandb-launch/ssh/id_0"]
    assert github["identitiesonly"] == ["yes"]
    # Without known hosts the host key is not checked (W&B's chart does the same); said in values.yaml.
    assert github["stricthostkeychecking"] == ["false"]
    assert github["userknownhostsfile"] == ["/dev/null"]
    gitlab = ssh_options(config, "git.gitlab.example.com", tmp_path)
    assert gitlab["identityfile"] == ["/etc/wandb-launch/ssh/id_1"]
    # A host no key names gets no key of the chart.
    assert "/etc/wandb-launch/ssh/id_0" not in ssh_options(config, "bitbucket.org", tmp_path).get("identityfile", [])


def test_known_hosts_turn_on_strict_host_key_checking(tmp_path: Path) -> None:
    docs = with_keys(KNOWN_HOSTS)
    data = ssh_config_map(docs)["data"]
    assert data["known_hosts"].strip() == KNOWN_HOSTS
    github = ssh_options(data["config"], "github.com", tmp_path)
    assert github["stricthostkeychecking"] == ["true"]
    assert github["userknownhostsfile"] == ["/etc/wandb-launch/ssh/known_hosts"]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([{"name": "k"}], "missing property 'host'"),
        ([{"name": "Bad_Name", "host": "github.com"}], "/git/sshAuthSecrets/0/name"),
        ([{"name": "k", "host": "github.com\n  ProxyCommand evil"}], "/git/sshAuthSecrets/0/host"),
        ([{"name": "k", "host": "github.com", "port": 22}], "additional properties 'port' not allowed"),
    ],
    ids=["no-host", "bad-secret-name", "config-injection", "unknown-field"],
)
def test_schema_refuses_bad_keys(keys: list[dict[str, Any]], message: str) -> None:
    result = helm_template(
        "-f", str(GKE), "--set", f"apiKey.value={API_KEY_PLACEHOLDER}", "--set-json", f"git.sshAuthSecrets={json.dumps(keys)}"
    )
    assert result.returncode != 0
    assert message in result.stderr
