"""Certificates and keys of a throwaway control plane: one CA, the API server's serving
certificate, client certificates, and the service-account signing key.

ECDSA P-256 throughout: key generation takes milliseconds, which keeps start-up fast.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class CertKey:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ControlPlanePki:
    ca: CertKey
    apiserver: CertKey
    admin: CertKey
    controller_manager: CertKey
    # Signs service-account tokens (API server, controller manager).
    service_account_key: Path
    # Verifies them (--service-account-key-file takes public keys only).
    service_account_public_key: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """ECDSA keys sign; only the CA's sign certificates (and CRLs)."""
    return x509.KeyUsage(
        digital_signature=True, key_encipherment=False, content_commitment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=signs_certificates,
        crl_sign=signs_certificates, encipher_only=False, decipher_only=False,
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _issue(
    directory: Path,
    stem: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    usage: ExtendedKeyUsageOID,
    alt_names: list[x509.GeneralName] | None = None,
) -> CertKey:
    key = _new_key()
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    paths = CertKey(directory / f"{stem}.crt", directory / f"{stem}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths.key, key)
    return paths


def generate_pki(directory: Path, *, service_ip: str) -> ControlPlanePki:
    """Write every certificate and key into `directory`.

    `service_ip` is the first address of the service range: in-cluster clients reach the
    API server as `kubernetes.default.svc` at that address, so the serving cert names it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _new_key()
    ca_name = _name("wandb-launch-local-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca = CertKey(directory / "ca.crt", directory / "ca.key")
    ca.cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(ca.key, ca_key)

    serving_names: list[x509.GeneralName] = [
        x509.DNSName(dns)
        for dns in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    serving_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", service_ip)]
    apiserver = _issue(
        directory, "apiserver", ca_cert, ca_key, _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH, serving_names,
    )
    # The API server maps the client certificate's O to groups: system:masters is the admin.
    admin = _issue(
        directory, "admin", ca_cert, ca_key, _name("wandb-launch-admin", "system:masters"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    # The bootstrap RBAC policy grants this exact user name what the controller manager needs.
    controller_manager = _issue(
        directory, "controller-manager", ca_cert, ca_key, _name("system:kube-controller-manager"),
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    signing_key = _new_key()
    service_account_key = directory / "service-account.key"
    _write_key(service_account_key, signing_key)
    service_account_public_key = directory / "service-account.pub"
    service_account_public_key.write_bytes(
        signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ControlPlanePki(
        ca, apiserver, admin, controller_manager, service_account_key, service_account_public_key
    )


def issue_certificate(
    ca: CertKey, directory: Path, stem: str, common_name: str, *,
    organization: str | None = None, server_ips: tuple[str, ...] = (),
) -> CertKey:
    """One more certificate from an existing CA (on disk): a client certificate, or a
    serving one when `server_ips` are given. Used for the processes that only some control
    planes run (kube-scheduler, KWOK)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    if server_ips:
        alt_names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
        return _issue(directory, stem, ca_cert, ca_key, _name(common_name, organization),
                      ExtendedKeyUsageOID.SERVER_AUTH, alt_names)
    return _issue(directory, stem, ca_cert, ca_key, _name(common_name, organization), ExtendedKeyUsageOID.CLIENT_AUTH)
