"""Fixtures of the release tests: a throwaway OpenPGP key, the release artifacts made by the
release scripts (hack/release_chart.py, hack/release_plugin.py, `python -m build`), an OCI
registry (CNCF distribution) on 127.0.0.1, and Helm homes of their own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from wandb_launch.controlplane.binaries import find_binary
from wandb_launch.controlplane.errors import ControlPlaneError

REPO = Path(__file__).resolve().parents[2]
VERSION = str(yaml.safe_load((REPO / "chart" / "Chart.yaml").read_text())["version"])
HELMS = ("helm", "helm4")
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A binary of the tools cache (make tools), else PATH."""
    try:
        return str(find_binary(name))
    except ControlPlaneError:
        if name == "gpg":
            pytest.fail("gpg is not installed: the release tests make their signing key with GnuPG (apt-get install gnupg)")
        pytest.fail(f"{name} is not built: run `make tools` (hack/install-tools.sh)")


def run(*command: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 300)
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False, **kwargs)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@dataclass(frozen=True)
class SigningKey:
    """A key in GnuPG's home, and the binary keyrings Helm reads (it cannot read GnuPG's keybox)."""

    user_id: str
    fingerprint: str
    secret_keyring: Path  # `gpg --export-secret-keys`: what helm package --sign / helm4 plugin package read
    public_keyring: Path  # `gpg --export`: what users give helm --verify --keyring
    passphrase_file: Path | None = None


def make_key(home: Path, name: str, passphrase: str = "") -> SigningKey:
    """An RSA signing key made by GnuPG; with a passphrase, the exported secret key stays protected by it."""
    gpg = tool("gpg")
    home.mkdir(mode=0o700, parents=True)
    user_id = f"{name} <{name.replace(' ', '-')}@wandb-launch.invalid>"
    base = [gpg, "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase]
    run(*base, "--quick-generate-key", user_id, "rsa3072", "sign", "1d")
    listing = run(gpg, "--homedir", home, "--batch", "--with-colons", "--list-secret-keys", user_id).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    secret, public = home / "secring.gpg", home / "pubring.gpg"
    secret.write_bytes(subprocess.run([*map(str, base), "--export-secret-keys", user_id], capture_output=True, check=True).stdout)
    public.write_bytes(subprocess.run([gpg, "--homedir", str(home), "--export", user_id], capture_output=True, check=True).stdout)
    passphrase_file = None
    if passphrase:
        passphrase_file = home / "passphrase"
        passphrase_file.write_text(passphrase + "\n")
    return SigningKey(user_id, fingerprint, secret, public, passphrase_file)


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    """The release key of these tests: unprotected, like one imported from a CI secret without passphrase."""
    return make_key(tmp_path_factory.mktemp("gnupg") / "release", "wandb-launch release test")


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    """A key that signed nothing here: verifying with it must fail."""
    return make_key(tmp_path_factory.mktemp("gnupg") / "other", "someone else")


SIGN_KEY_URL = "https://example.invalid/wandb-launch-signing-key.asc"


@pytest.fixture(scope="session")
def chart_release(tmp_path_factory: pytest.TempPathFactory, signing_key: SigningKey) -> Path:
    """wandb-launch-<version>.tgz (+ .prov) as the release workflow makes it."""
    out = tmp_path_factory.mktemp("chart-release")
    result = run(
        sys.executable, REPO / "hack" / "release_chart.py", "--keyring", signing_key.secret_keyring,
        "--key", signing_key.user_id, "--sign-key-url", SIGN_KEY_URL, "-d", out,
        env={**os.environ, "HELM_BIN": tool("helm")},
    )
    tgz = Path(result.stdout.strip())
    assert tgz == out / f"wandb-launch-{VERSION}.tgz" and Path(f"{tgz}.prov").is_file()
    return tgz


@dataclass(frozen=True)
class PythonDists:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def python_dists(tmp_path_factory: pytest.TempPathFactory) -> PythonDists:
    """`python -m build`: the sdist, then the wheel built from that sdist (so the sdist must carry the chart)."""
    out = tmp_path_factory.mktemp("python-dists")
    run(sys.executable, "-m", "build", "--outdir", out, REPO, timeout=600)
    (sdist,) = out.glob("wandb_launch-*.tar.gz")
    (wheel,) = out.glob("wandb_launch-*-py3-none-any.whl")
    return PythonDists(sdist, wheel)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, python_dists: PythonDists) -> Path:
    """The wheel and every dependency's wheel, from the package index once per session: the fresh
    venvs of the tests install from here (`--no-index --find-links`), so the index's answers, which
    this machine's pip does not cache, are fetched once and not per venv."""
    out = tmp_path_factory.mktemp("wheelhouse")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", out, python_dists.wheel, timeout=900)
    return out


@pytest.fixture(scope="session")
def plugin_release(tmp_path_factory: pytest.TempPathFactory, signing_key: SigningKey, python_dists: PythonDists) -> Path:
    """The directory with launch-<v>.tgz (+ .prov, Helm 4) and launch-<v>-helm3.tgz."""
    out = tmp_path_factory.mktemp("plugin-release")
    run(
        sys.executable, REPO / "hack" / "release_plugin.py", "--wheel", python_dists.wheel,
        "--keyring", signing_key.secret_keyring, "--key", signing_key.user_id, "-d", out,
        env={**os.environ, "HELM4_BIN": tool("helm4")},
    )
    return out


class OciRegistry:
    """The CNCF distribution registry on 127.0.0.1 (port chosen by the kernel), storage in a temp dir."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.host = ""

    def start(self, timeout: float = 30) -> None:
        config = self.workdir / "config.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "version": 0.1,
                    "log": {"level": "info", "accesslog": {"disabled": True}},
                    "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")}},
                    "http": {"addr": "127.0.0.1:0", "secret": "wandb-launch-tests"},
                }
            )
        )
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([tool("registry"), "serve", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"listening on (127\.0\.0\.1:\d+)", self.log.read_text())
            if match:
                self.host = match[1]
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the OCI registry did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    registry = OciRegistry(tmp_path_factory.mktemp("oci-registry"))
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


class Helm:
    """One Helm binary with homes of its own (plugins, registry logins, caches), as a fresh user has."""

    def __init__(self, binary: str, home: Path, path: str | None = None) -> None:
        self.binary = binary
        self.home = home
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HELM_") and k not in ("KUBECONFIG", "WANDB_LAUNCH_CHART")},
            "HELM_DATA_HOME": str(home / "data"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            # This venv's wandb-launch (the version under test) first, as in tests/plugin: plugin
            # install hooks use it instead of making a venv of their own.
            "PATH": path if path is not None else f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def __call__(self, *args: str | Path, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run(self.binary, *args, check=check, env=self.env, cwd=self.home, timeout=timeout)

    @property
    def plugins_dir(self) -> Path:
        return self.home / "data" / "plugins"


@pytest.fixture
def fresh_helm(tmp_path: Path):
    """fresh_helm("helm" | "helm4", path=None) -> Helm with empty homes under tmp_path."""

    def make(name: str, path: str | None = None) -> Helm:
        home = tmp_path / f"{name}-home"
        home.mkdir()
        return Helm(tool(name), home, path)

    return make


def without_wandb_launch(path: str) -> str:
    """PATH minus the directories that hold a wandb-launch (so a plugin must bring its own CLI)."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not (Path(d) / "wandb-launch").exists())


def files_of(tgz: Path) -> dict[str, bytes]:
    """A chart package's files by path below its top directory."""
    import tarfile

    with tarfile.open(tgz) as tar:
        return {
            m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def git_repository_of_worktree(into: Path) -> Path:
    """A git repository with this checkout's files as they are now (committed or not), tagged v<version>.

    Served to Helm as a file:// URL: the same clone-and-checkout Helm does for a GitHub URL."""
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        source, target = REPO / name, into / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    identity = ["-c", "user.name=release tests", "-c", "user.email=tests@wandb-launch.invalid"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "snapshot"], ["tag", f"v{VERSION}"]):
        subprocess.run(["git", "-C", str(into), *command], capture_output=True, check=True)
    return into
