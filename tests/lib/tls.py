"""Certificates of the local platform's PostgreSQL front door, as a client sees them, and one made
to end soon (for the renewal tests of test_postgres_tls_local.py and test_pgbouncer_local.py)."""

import datetime
import pathlib
import socket
import ssl
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

# PostgreSQL's SSLRequest: the first message of a client that wants TLS (PgBouncer answers it too).
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def presented_certificate(port, cafile, host="localhost"):
    """The certificate a PostgreSQL server (or PgBouncer) on 127.0.0.1:port presents, verified."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(SSL_REQUEST)
        assert sock.recv(1) == b"S", "the server refused TLS"
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def resign_to_end_tomorrow(cert_path, ca_cert_path, ca_key_path):
    """Replace the certificate at cert_path by one for the same key, names and usages that ends in a
    day (inside any renewal window), signed by the same authority. Returns the authority's certificate."""
    ca_cert = x509.load_pem_x509_certificate(pathlib.Path(ca_cert_path).read_bytes())
    ca_key = serialization.load_pem_private_key(pathlib.Path(ca_key_path).read_bytes(), None)
    current = x509.load_pem_x509_certificate(pathlib.Path(cert_path).read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(current.subject).issuer_name(ca_cert.subject)
               .public_key(current.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1)))
    for extension in current.extensions:
        if isinstance(extension.value, (x509.SubjectAlternativeName, x509.ExtendedKeyUsage)):
            builder = builder.add_extension(extension.value, critical=extension.critical)
    pathlib.Path(cert_path).write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return ca_cert
