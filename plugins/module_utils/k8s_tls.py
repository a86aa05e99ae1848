# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""A Secret's certificate authority and server certificate, made once and kept.

A Secret annotated ``edp.platform/generate-tls`` (JSON: ``{"names": [...], "days": N,
"renew_days": M}``) gets ``ca.crt``, ``ca.key``, ``tls.crt`` and ``tls.key`` when the rendered
object does not set them: read back from the live Secret (or the previous render) while they are
good, made anew otherwise. The authority lives ten times ``days`` (as on the local target) and is
kept while it has more than ``renew_days`` left; the server certificate is made anew when it is
missing, ends within ``renew_days``, is for other names or is not signed by the authority.

Pure functions of their inputs and the clock (``now``): unit-tested in tests/unit/test_k8s_tls.py.
Key material never leaves the returned Secret data (the apply masks Secret data in its diff).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ANNOTATION_GENERATE_TLS = "edp.platform/generate-tls"
KEYS = ("ca.crt", "ca.key", "tls.crt", "tls.key")
CA_LIFETIMES = 10  # the authority outlives ten server certificates


class TlsSpecError(ValueError):
    """The annotation cannot be read (a template's fault: raised before any write)."""


def parse_spec(value):
    """``(names, days, renew_days)`` from the annotation's JSON."""
    try:
        spec = json.loads(value)
        names = [str(n) for n in spec["names"]]
        days, renew_days = int(spec["days"]), int(spec["renew_days"])
    except (ValueError, TypeError, KeyError) as exc:
        raise TlsSpecError("%s must be JSON with names, days and renew_days: %s" % (ANNOTATION_GENERATE_TLS, exc))
    if not names or days <= renew_days or renew_days < 0:
        raise TlsSpecError("%s needs names and days > renew_days >= 0" % ANNOTATION_GENERATE_TLS)
    return names, days, renew_days


def _b64(data):
    return base64.b64encode(data).decode()


def _unb64(value):
    try:
        return base64.b64decode(value or "")
    except (ValueError, TypeError):
        return b""


def load_certificate(pem):
    """The certificate in PEM bytes, or None when they hold none."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def _load_key(pem):
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return None


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _same_public_key(cert, key):
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def days_left(cert, now):
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


def subject_alt_names(cert):
    """The certificate's subject alternative names as ``DNS:name`` and ``IP:address``, sorted."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found = ["DNS:%s" % name for name in names.get_values_for_type(x509.DNSName)]
    found += ["IP:%s" % ipaddress.ip_address(address) for address in names.get_values_for_type(x509.IPAddress)]
    return sorted(found)


def signed_by(cert, ca_cert):
    """Whether ca_cert's key signed cert."""
    try:
        cert.verify_directly_issued_by(ca_cert)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def make_ca(common_name, days, now):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_server(names, days, now, ca_cert, ca_key):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def fill_tls(desired, live, now=None):
    """Give a Secret annotated ``edp.platform/generate-tls`` its four keys (base64, in ``data``).

    Returns the keys made now (an empty list when everything was kept). Keys the rendered object
    sets itself are left alone (then nothing is generated).
    """
    spec = (desired.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_GENERATE_TLS)
    if desired.get("kind") != "Secret" or not spec:
        return []
    names, days, renew_days = parse_spec(spec)
    data = desired.setdefault("data", {})
    if any(k in data for k in KEYS):
        return []
    now = now or datetime.datetime.now(datetime.timezone.utc)
    current = (live or {}).get("data") or {}
    ca_cert, ca_key = load_certificate(_unb64(current.get("ca.crt"))), _load_key(_unb64(current.get("ca.key")))
    cert, key = load_certificate(_unb64(current.get("tls.crt"))), _load_key(_unb64(current.get("tls.key")))
    made = []
    if not (ca_cert and ca_key and _same_public_key(ca_cert, ca_key) and days_left(ca_cert, now) > renew_days):
        ca_cert, ca_key = make_ca("%s CA" % names[0], days * CA_LIFETIMES, now)
        made += ["ca.crt", "ca.key"]
    if made or not (cert and key and _same_public_key(cert, key) and days_left(cert, now) > renew_days
                    and subject_alt_names(cert) == sorted("DNS:" + n for n in names) and signed_by(cert, ca_cert)):
        cert, key = make_server(names, days, now, ca_cert, ca_key)
        made += ["tls.crt", "tls.key"]
    # What is kept is copied as it was (byte for byte: a rerun then changes nothing).
    data.update({k: current[k] for k in KEYS if k not in made})
    if "ca.crt" in made:
        data.update({"ca.crt": _b64(_pem_cert(ca_cert)), "ca.key": _b64(_pem_key(ca_key))})
    if "tls.crt" in made:
        data.update({"tls.crt": _b64(_pem_cert(cert)), "tls.key": _b64(_pem_key(key))})
    return made
