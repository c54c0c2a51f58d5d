"""The chart as released: packaged and signed by hack/release_chart.py, verified by Helm 3 and
Helm 4, pushed to a real OCI registry on 127.0.0.1 and pulled back, by version and by digest."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import HELMS, REPO, SIGN_KEY_URL, VERSION, SigningKey, files_of, make_key, run, tool


def test_package_is_the_chart_with_its_sign_key(chart_release: Path, signing_key: SigningKey, tmp_path: Path) -> None:
    run(tool("helm"), "package", REPO / "chart", "-d", tmp_path)
    plain, released = files_of(tmp_path / f"wandb-launch-{VERSION}.tgz"), files_of(chart_release)
    assert sorted(released) == sorted(plain)
    assert {k: v for k, v in released.items() if k != "Chart.yaml"} == {k: v for k, v in plain.items() if k != "Chart.yaml"}
    # The helm test pod's check is shipped as the file `verify` loads too.
    assert released["files/helm_test_check.py"] == (REPO / "chart/files/helm_test_check.py").read_bytes()
    plain_meta, released_meta = yaml.safe_load(plain["Chart.yaml"]), yaml.safe_load(released["Chart.yaml"])
    sign_key = yaml.safe_load(released_meta["annotations"].pop("artifacthub.io/signKey"))
    assert sign_key == {"fingerprint": signing_key.fingerprint, "url": SIGN_KEY_URL}
    assert released_meta == plain_meta


@pytest.mark.parametrize("helm", HELMS)
def test_verify_accepts_the_release_key_only(helm: str, chart_release: Path, signing_key: SigningKey, other_key: SigningKey) -> None:
    ok = run(tool(helm), "verify", "--keyring", signing_key.public_keyring, chart_release)
    assert f"Using Key With Fingerprint: {signing_key.fingerprint}" in ok.stdout
    wrong = run(tool(helm), "verify", "--keyring", other_key.public_keyring, chart_release, check=False)
    assert wrong.returncode != 0 and "unknown entity" in wrong.stderr


@pytest.mark.parametrize("helm", HELMS)
def test_verify_refuses_a_changed_package(helm: str, chart_release: Path, signing_key: SigningKey, tmp_path: Path) -> None:
    changed = tmp_path / chart_release.name
    shutil.copy(f"{chart_release}.prov", f"{changed}.prov")
    data = bytearray(chart_release.read_bytes())
    data[-20] ^= 0xFF  # inside the gzip stream's body
    changed.write_bytes(bytes(data))
    result = run(tool(helm), "verify", "--keyring", signing_key.public_keyring, changed, check=False)
    assert result.returncode != 0 and "sha256 sum does not match" in result.stderr


@pytest.mark.parametrize("helm", HELMS)
def test_a_passphrase_protected_key_signs_with_a_passphrase_file(helm: str, tmp_path: Path) -> None:
    """What a CI secret with a passphrase needs: helm package --sign --passphrase-file."""
    key = make_key(tmp_path / "gnupg", "protected release", passphrase="correct horse")
    assert key.passphrase_file is not None
    command = [sys.executable, REPO / "hack/release_chart.py", "--keyring", key.secret_keyring, "--key", key.user_id,
               "--sign-key-url", SIGN_KEY_URL, "-d", tmp_path / "out"]
    env = {**os.environ, "HELM_BIN": tool(helm)}
    signed = run(*command, "--passphrase-file", key.passphrase_file, env=env)
    run(tool(helm), "verify", "--keyring", key.public_keyring, signed.stdout.strip())
    key.passphrase_file.write_text("wrong\n")
    refused = run(*command, "--passphrase-file", key.passphrase_file, env=env, check=False)
    assert refused.returncode == 1 and "release_chart: " in refused.stderr and "failed" in refused.stderr


@pytest.mark.parametrize("helm", HELMS)
def test_push_pull_verify_through_the_registry(helm: str, fresh_helm, oci_registry, chart_release: Path, signing_key: SigningKey, other_key: SigningKey, tmp_path: Path) -> None:
    client = fresh_helm(helm)
    repository = f"oci://{oci_registry.host}/charts-{helm}"
    pushed = client("push", chart_release, repository, "--plain-http")
    digest = next(line.split()[1] for line in (pushed.stdout + pushed.stderr).splitlines() if line.startswith("Digest:"))
    # The provenance travels with the chart: pull --verify checks it against the key.
    by_version = tmp_path / "by-version"
    by_version.mkdir()
    pulled = client("pull", f"{repository}/wandb-launch", "--version", VERSION, "--plain-http", "--verify",
                    "--keyring", signing_key.public_keyring, "-d", by_version)
    assert f"Using Key With Fingerprint: {signing_key.fingerprint}" in pulled.stdout
    assert (by_version / chart_release.name).read_bytes() == chart_release.read_bytes()
    assert (by_version / f"{chart_release.name}.prov").read_bytes() == Path(f"{chart_release}.prov").read_bytes()
    refused = client("pull", f"{repository}/wandb-launch", "--version", VERSION, "--plain-http", "--verify",
                     "--keyring", other_key.public_keyring, "-d", tmp_path, check=False)
    assert refused.returncode != 0 and "unknown entity" in refused.stderr
    # By digest: the exact bytes that were pushed, whatever the tag points at later.
    by_digest = tmp_path / "by-digest"
    by_digest.mkdir()
    client("pull", f"{repository}/wandb-launch@{digest}", "--plain-http", "-d", by_digest)
    (pulled_by_digest,) = by_digest.glob("*.tgz")  # Helm 3 names it wandb-launch@sha256-<hex>.tgz
    assert pulled_by_digest.read_bytes() == chart_release.read_bytes()
    shown = yaml.safe_load(client("show", "chart", f"{repository}/wandb-launch", "--version", VERSION, "--plain-http").stdout)
    assert shown["version"] == VERSION and "artifacthub.io/signKey" in shown["annotations"]
