"""certificate_days_left and certificate_names, on certificates made here: what a run reads to
decide whether the local PostgreSQL needs a new certificate."""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.edp.platform.plugins.filter.certificates import certificate_days_left, certificate_names

NOW = datetime.datetime(2026, 12, 2, tzinfo=datetime.timezone.utc)


def make(path, days, names=None):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(days=1))
               .not_valid_after(NOW + datetime.timedelta(days=days)))
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return path


def test_days_left_counts_to_the_end_of_the_certificate(tmp_path):
    cert = make(tmp_path / "server.crt", 10)
    assert certificate_days_left(str(cert), now=NOW) == 10
    assert certificate_days_left(str(cert), now=NOW + datetime.timedelta(days=12)) == -2


def test_a_missing_or_damaged_certificate_has_no_days_left(tmp_path):
    assert certificate_days_left(str(tmp_path / "none.crt")) == -1
    (tmp_path / "bad.crt").write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    assert certificate_days_left(str(tmp_path / "bad.crt")) == -1


def test_names_are_the_alternative_names_sorted_as_a_role_writes_them(tmp_path):
    cert = make(tmp_path / "server.crt", 10, [x509.IPAddress(ipaddress.ip_address("::1")),
                                             x509.DNSName("localhost"),
                                             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    assert certificate_names(str(cert)) == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    assert certificate_names(str(make(tmp_path / "bare.crt", 10))) == []
    assert certificate_names(str(tmp_path / "none.crt")) == []
