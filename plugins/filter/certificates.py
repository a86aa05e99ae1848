# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""certificate_days_left and certificate_names: what a run needs to know of a PEM certificate file
on the controller's host to decide whether to make a new one (documentation: their .yml files)."""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509


def _load(path):
    try:
        with open(path, "rb") as handle:
            return x509.load_pem_x509_certificate(handle.read())
    except (OSError, ValueError):
        return None


def certificate_days_left(path, now=None):
    """Days (fractional) until the certificate in path ends; -1.0 when there is none to read."""
    cert = _load(path)
    if cert is None:
        return -1.0
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


def certificate_names(path):
    """The certificate's subject alternative names as C(DNS:name) and C(IP:address), sorted; an
    empty list when there is no certificate or no such extension."""
    cert = _load(path)
    if cert is None:
        return []
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found = ["DNS:%s" % name for name in names.get_values_for_type(x509.DNSName)]
    found += ["IP:%s" % ipaddress.ip_address(address) for address in names.get_values_for_type(x509.IPAddress)]
    return sorted(found)


class FilterModule:
    def filters(self):
        return {"certificate_days_left": certificate_days_left, "certificate_names": certificate_names}
