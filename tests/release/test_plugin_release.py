"""`helm plugin install` of the released plugin (hack/release_plugin.py): the signed Helm 4
tarball (v1 manifest), the Helm 3 tarball (legacy manifest) from a URL, and a git URL, each
with a fresh Helm home; the install hook brings the CLI from the wheel inside the tarball."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import HELMS, REPO, VERSION, Helm, SigningKey, git_repository_of_worktree, run, without_wandb_launch

HELM4_TARBALL = f"launch-{VERSION}.tgz"
HELM3_TARBALL = f"launch-{VERSION}-helm3.tgz"


class _TarballHandler(http.server.SimpleHTTPRequestHandler):
    # Helm 3 installs a plugin from a URL only when the server calls it gzip.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".tgz": "application/gzip", ".prov": "text/plain"}

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def release_url(plugin_release: Path) -> Iterator[str]:
    """http://127.0.0.1:<port>: the release directory, as a download page serves it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_TarballHandler, directory=str(plugin_release)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def listed(helm: Helm) -> dict[str, list[str]]:
    """`helm plugin list` rows by plugin name."""
    rows = [line.split() for line in helm("plugin", "list").stdout.splitlines()[1:] if line.strip()]
    return {row[0]: row for row in rows}


def test_helm4_tarball_is_signed_and_has_the_v1_manifest(fresh_helm: Callable[..., Helm], plugin_release: Path, signing_key: SigningKey) -> None:
    helm4 = fresh_helm("helm4")
    installed = helm4("plugin", "install", plugin_release / HELM4_TARBALL, "--keyring", signing_key.public_keyring)
    assert f"Using Key With Fingerprint: {signing_key.fingerprint}" in installed.stdout
    # NAME VERSION TYPE APIVERSION PROVENANCE SOURCE
    assert listed(helm4)["launch"][:5] == ["launch", VERSION, "cli/v1", "v1", "signed"]
    assert helm4("launch", "--version").stdout.strip() == f"wandb-launch {VERSION}"


def test_helm4_refuses_another_key_and_a_changed_tarball(fresh_helm: Callable[..., Helm], plugin_release: Path, other_key: SigningKey, signing_key: SigningKey, tmp_path: Path) -> None:
    helm4 = fresh_helm("helm4")
    wrong_key = helm4("plugin", "install", plugin_release / HELM4_TARBALL, "--keyring", other_key.public_keyring, check=False)
    assert wrong_key.returncode != 0 and "unknown entity" in wrong_key.stderr
    changed = tmp_path / HELM4_TARBALL
    shutil.copy(plugin_release / f"{HELM4_TARBALL}.prov", f"{changed}.prov")
    data = bytearray((plugin_release / HELM4_TARBALL).read_bytes())
    data[-20] ^= 0xFF
    changed.write_bytes(bytes(data))
    tampered = helm4("plugin", "install", changed, "--keyring", signing_key.public_keyring, check=False)
    assert tampered.returncode != 0 and "sha256 sum does not match" in tampered.stderr
    assert "launch" not in listed(helm4)


def test_helm4_installs_from_a_url_with_the_prov_beside_it(fresh_helm: Callable[..., Helm], release_url: str, signing_key: SigningKey) -> None:
    helm4 = fresh_helm("helm4")
    installed = helm4("plugin", "install", f"{release_url}/{HELM4_TARBALL}", "--keyring", signing_key.public_keyring)
    assert "Plugin Hash Verified" in installed.stdout
    assert listed(helm4)["launch"][:5] == ["launch", VERSION, "cli/v1", "v1", "signed"]


def test_helm3_installs_its_tarball_from_a_url(fresh_helm: Callable[..., Helm], release_url: str) -> None:
    helm = fresh_helm("helm")
    helm("plugin", "install", f"{release_url}/{HELM3_TARBALL}")
    assert listed(helm)["launch"][:2] == ["launch", VERSION]
    assert helm("launch", "--version").stdout.strip() == f"wandb-launch {VERSION}"


def test_helm3_rejects_the_v1_manifest_so_it_gets_its_own(fresh_helm: Callable[..., Helm], plugin_release: Path, tmp_path: Path) -> None:
    with tarfile.open(plugin_release / HELM4_TARBALL) as tar:
        tar.extractall(tmp_path, filter="tar")
    manifest = yaml.safe_load((tmp_path / "launch/plugin.yaml").read_text())
    assert (manifest["apiVersion"], manifest["type"], manifest["runtime"]) == ("v1", "cli/v1", "subprocess")
    refused = fresh_helm("helm")("plugin", "install", tmp_path / "launch", check=False)
    assert refused.returncode != 0 and 'unknown field "apiVersion"' in refused.stderr


@pytest.fixture(scope="module")
def git_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """This checkout as a git repository tagged v<version>, by file:// URL."""
    return f"file://{git_repository_of_worktree(tmp_path_factory.mktemp('git-source') / 'wandb-launch')}"


@pytest.mark.parametrize("helm_name", HELMS)
def test_git_url_install_and_update(helm_name: str, fresh_helm: Callable[..., Helm], git_source: str, tmp_path: Path) -> None:
    helm = fresh_helm(helm_name)
    # Helm 4 verifies only tarballs: a git source needs --verify=false.
    verify = ["--verify=false"] if helm_name == "helm4" else []
    installed = helm("plugin", "install", git_source, "--version", VERSION, *verify)
    assert "helm launch: using" in installed.stdout
    assert listed(helm)["launch"][:2] == ["launch", VERSION]
    out = tmp_path / "local.yaml"
    helm("launch", "values", "--spec", REPO / "values/specs/local.yaml", "-o", out)
    assert yaml.safe_load(out.read_text()) == yaml.safe_load((REPO / "values/local.yaml").read_text())
    helm("plugin", "update", "launch")


def test_install_hook_puts_the_bundled_wheel_in_a_venv(fresh_helm: Callable[..., Helm], plugin_release: Path, signing_key: SigningKey, wheelhouse: Path) -> None:
    """No wandb-launch on PATH: the hook installs the wheel the tarball carries, nothing from a checkout."""
    helm4 = fresh_helm("helm4", path=without_wandb_launch(os.environ["PATH"]))
    # The wheel's dependencies come from the session's wheelhouse instead of the index, and
    # pip skips compiling the SDK's bytecode (half the install's CPU here): pip reads
    # PIP_NO_COMPILE=0 as --no-compile (its env values of --no-* flags are inverted). Were
    # that to change, the install would only get slower.
    helm4.env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_NO_COMPILE="0")
    installed = helm4("plugin", "install", plugin_release / HELM4_TARBALL, "--keyring", signing_key.public_keyring, timeout=900)
    plugin_dir = helm4.plugins_dir / "launch"
    assert f"installing wandb-launch {VERSION} into {plugin_dir / '.venv'} from {plugin_dir / 'wheels'}" in installed.stdout
    assert helm4("launch", "--version").stdout.strip() == f"wandb-launch {VERSION}"
    code = "from wandb_launch import chartvalues; print(chartvalues.find_chart())"
    located = Path(run(plugin_dir / ".venv/bin/python", "-c", code, env=helm4.env, cwd=helm4.home).stdout.strip())
    assert located.is_relative_to(plugin_dir / ".venv") and yaml.safe_load((located / "Chart.yaml").read_text())["version"] == VERSION
