# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""certificate_days_left and certificate_names: what a run needs to know of a PEM certificate file
on the controller's host to decide whether to make a new one (documentation: their .yml files)."""

from __future__ import annotations

import datetime

from ansible_collections.edp.platform.plugins.module_utils.k8s_tls import days_left, load_certificate, subject_alt_names


def _load(path):
    try:
        with open(path, "rb") as handle:
            return load_certificate(handle.read())
    except OSError:
        return None


def certificate_days_left(path, now=None):
    """Days (fractional) until the certificate in path ends; -1.0 when there is none to read."""
    cert = _load(path)
    if cert is None:
        return -1.0
    return days_left(cert, now or datetime.datetime.now(datetime.timezone.utc))


def certificate_names(path):
    """The certificate's subject alternative names as C(DNS:name) and C(IP:address), sorted; an
    empty list when there is no certificate or no such extension."""
    cert = _load(path)
    return subject_alt_names(cert) if cert is not None else []


class FilterModule:
    def filters(self):
        return {"certificate_days_left": certificate_days_left, "certificate_names": certificate_names}
