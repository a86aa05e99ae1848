# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""A Secret's certificate authority and server certificate, made once and kept.

A Secret annotated ``edp.platform/generate-tls`` (JSON: ``{"names": [...], "days": N,
"renew_days": M}``) gets ``ca.crt``, ``ca.key``, ``tls.crt`` and ``tls.key`` when the rendered
object does not set them: read back from the live Secret (or the previous render) while they are
good, made anew otherwise. The authority lives ten times ``days`` (as on the local target) and is
kept while it has more than ``renew_days`` left; the server certificate is made anew when it is
missing, ends within ``renew_days``, is for other names or is not signed by the authority.

``"extra": {"NAME": {"cn": ..., "names": [...], "usages": ["server", "client"]}}`` asks for more
certificates of the same authority (PgBouncer's, which is a server to its clients and a client
to PostgreSQL), kept under ``NAME.crt`` and ``NAME.key`` of the same Secret and renewed by the
same rules, and when their common name or usages differ.

Pure functions of their inputs and the clock (``now``): unit-tested in tests/unit/test_k8s_tls.py.
Key material never leaves the returned Secret data (the apply masks Secret data in its diff).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ANNOTATION_GENERATE_TLS = "edp.platform/generate-tls"
KEYS = ("ca.crt", "ca.key", "tls.crt", "tls.key")
CA_LIFETIMES = 10  # the authority outlives ten server certificates
# An extra certificate's usages, by the name the annotation gives them.
USAGES = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
_EXTRA_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class TlsSpecError(ValueError):
    """The annotation cannot be read (a template's fault: raised before any write)."""


def parse_spec(value):
    """``(names, days, renew_days)`` from the annotation's JSON."""
    names, days, renew_days, _ = parse_full_spec(value)
    return names, days, renew_days


def parse_full_spec(value):
    """``(names, days, renew_days, extra)`` from the annotation's JSON; ``extra`` maps a name to
    ``{"cn": str, "names": [str], "usages": [str]}`` (sorted usages)."""
    try:
        spec = json.loads(value)
        names = [str(n) for n in spec["names"]]
        days, renew_days = int(spec["days"]), int(spec["renew_days"])
        extra = {}
        for name, entry in (spec.get("extra") or {}).items():
            extra[str(name)] = {"cn": str(entry["cn"]), "names": [str(n) for n in entry.get("names") or []],
                                "usages": sorted(str(u) for u in entry["usages"])}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TlsSpecError("%s must be JSON with names, days and renew_days: %s" % (ANNOTATION_GENERATE_TLS, exc))
    if not names or days <= renew_days or renew_days < 0:
        raise TlsSpecError("%s needs names and days > renew_days >= 0" % ANNOTATION_GENERATE_TLS)
    for name, entry in extra.items():
        if not _EXTRA_NAME.match(name) or name in ("ca", "tls"):
            raise TlsSpecError("%s: the extra certificate %r needs a name of lowercase letters, digits and '-', "
                               "other than ca and tls" % (ANNOTATION_GENERATE_TLS, name))
        if not entry["usages"] or not set(entry["usages"]) <= set(USAGES):
            raise TlsSpecError("%s: the extra certificate %r needs usages among %s" % (
                ANNOTATION_GENERATE_TLS, name, ", ".join(sorted(USAGES))))
    return names, days, renew_days, extra


def extra_keys(name):
    """The data keys of the extra certificate ``name``: its certificate and its key."""
    return ("%s.crt" % name, "%s.key" % name)


def spec_keys(value):
    """Every data key the annotation's JSON promises: KEYS and each extra certificate's."""
    _, _, _, extra = parse_full_spec(value)
    return list(KEYS) + [k for name in sorted(extra) for k in extra_keys(name)]


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
    return make_certificate(names[0], names, ["server"], days, now, ca_cert, ca_key)


def make_certificate(common_name, names, usages, days, now, ca_cert, ca_key):
    """A certificate for ``common_name`` and the DNS ``names``, for ``usages`` (USAGES' keys),
    signed by the authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    cert = (builder
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([USAGES[u] for u in sorted(set(usages))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def common_name(cert):
    """The certificate's subject common name, or None."""
    found = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return found[0].value if found else None


def usages(cert):
    """The certificate's extended key usages by USAGES' names, sorted (others left out)."""
    try:
        found = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return sorted(name for name, oid in USAGES.items() if oid in found)


def _good(cert, key, ca_cert, now, renew_days, names, cn=None, wanted_usages=None):
    """Whether a kept certificate and key may stay: a pair, not about to end, for these names (and
    common name and usages), signed by the authority."""
    return bool(cert and key and _same_public_key(cert, key) and days_left(cert, now) > renew_days
                and subject_alt_names(cert) == sorted("DNS:" + n for n in names) and signed_by(cert, ca_cert)
                and (cn is None or common_name(cert) == cn)
                and (wanted_usages is None or usages(cert) == sorted(set(wanted_usages))))


def fill_tls(desired, live, now=None):
    """Give a Secret annotated ``edp.platform/generate-tls`` its keys (base64, in ``data``): the four
    of KEYS and those of each extra certificate.

    Returns the keys made now (an empty list when everything was kept). Keys the rendered object
    sets itself are left alone (then nothing is generated).
    """
    spec = (desired.get("metadata", {}).get("annotations") or {}).get(ANNOTATION_GENERATE_TLS)
    if desired.get("kind") != "Secret" or not spec:
        return []
    names, days, renew_days, extra = parse_full_spec(spec)
    data = desired.setdefault("data", {})
    if any(k in data for k in spec_keys(spec)):
        return []
    now = now or datetime.datetime.now(datetime.timezone.utc)
    current = (live or {}).get("data") or {}
    ca_cert, ca_key = load_certificate(_unb64(current.get("ca.crt"))), _load_key(_unb64(current.get("ca.key")))
    made, out = [], {}
    if ca_cert and ca_key and _same_public_key(ca_cert, ca_key) and days_left(ca_cert, now) > renew_days:
        # What is kept is copied as it was (byte for byte: a rerun then changes nothing).
        out.update({"ca.crt": current["ca.crt"], "ca.key": current["ca.key"]})
    else:
        ca_cert, ca_key = make_ca("%s CA" % names[0], days * CA_LIFETIMES, now)
        made += ["ca.crt", "ca.key"]
        out.update({"ca.crt": _b64(_pem_cert(ca_cert)), "ca.key": _b64(_pem_key(ca_key))})
    new_ca = bool(made)  # every certificate is made anew with a new authority
    wanted = [("tls.crt", "tls.key", names[0], names, ["server"], False)]
    wanted += [extra_keys(name) + (entry["cn"], entry["names"], entry["usages"], True)
               for name, entry in sorted(extra.items())]
    for cert_key, key_key, cn, dns_names, wanted_usages, strict in wanted:
        cert, key = load_certificate(_unb64(current.get(cert_key))), _load_key(_unb64(current.get(key_key)))
        if new_ca or not _good(cert, key, ca_cert, now, renew_days, dns_names,
                               cn if strict else None, wanted_usages if strict else None):
            cert, key = make_certificate(cn, dns_names, wanted_usages, days, now, ca_cert, ca_key)
            made += [cert_key, key_key]
            out.update({cert_key: _b64(_pem_cert(cert)), key_key: _b64(_pem_key(key))})
        else:
            out.update({cert_key: current[cert_key], key_key: current[key_key]})
    data.update(out)
    return made
