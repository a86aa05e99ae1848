"""The apply path's certificate authority and server certificate (module_utils/k8s_tls.py)."""

import base64
import datetime
import json

import pytest
from cryptography import x509

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.edp.platform.plugins.module_utils import k8s_tls

NAMES = ["postgres", "postgres.ns", "postgres.ns.svc", "postgres.ns.svc.cluster.local"]
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def secret(names=NAMES, days=365, renew_days=30):
    spec = json.dumps({"names": names, "days": days, "renew_days": renew_days})
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "postgres-tls", "namespace": "ns", "annotations": {ko.ANNOTATION_GENERATE_TLS: spec}}}


def cert(obj, key="tls.crt"):
    return x509.load_pem_x509_certificate(base64.b64decode(obj["data"][key]))


def test_a_new_secret_gets_an_authority_and_a_server_certificate_it_signed():
    obj = secret()
    assert ko.fill_generated(obj, None) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    server, ca = cert(obj), cert(obj, "ca.crt")
    assert k8s_tls.signed_by(server, ca) and k8s_tls.subject_alt_names(server) == sorted("DNS:" + n for n in NAMES)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert server.not_valid_after_utc - server.not_valid_before_utc == datetime.timedelta(days=365, minutes=5)
    assert b"PRIVATE KEY" in base64.b64decode(obj["data"]["tls.key"])


def test_a_good_live_secret_is_kept_byte_for_byte():
    live = secret()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = secret()
    assert k8s_tls.fill_tls(again, live, now=NOW + datetime.timedelta(days=300)) == []
    assert again["data"] == live["data"]
    # In the same order too: a re-render writes the same file.
    assert list(again["data"]) == list(live["data"])


def test_a_certificate_within_its_renewal_window_is_made_anew_and_the_authority_kept():
    live = secret()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = secret()
    assert k8s_tls.fill_tls(again, live, now=NOW + datetime.timedelta(days=340)) == ["tls.crt", "tls.key"]
    assert again["data"]["ca.crt"] == live["data"]["ca.crt"] and again["data"]["ca.key"] == live["data"]["ca.key"]
    assert again["data"]["tls.key"] != live["data"]["tls.key"]
    assert k8s_tls.signed_by(cert(again), cert(live, "ca.crt"))


def test_other_names_make_a_new_server_certificate():
    live = secret()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = secret(names=NAMES + ["postgres.example.com"])
    assert k8s_tls.fill_tls(again, live, now=NOW) == ["tls.crt", "tls.key"]
    assert "DNS:postgres.example.com" in k8s_tls.subject_alt_names(cert(again))


def test_an_authority_near_its_end_is_renewed_with_the_server_certificate():
    live = secret()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = secret()
    later = NOW + datetime.timedelta(days=365 * 10 - 10)
    assert k8s_tls.fill_tls(again, live, now=later) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]


def test_a_certificate_not_signed_by_the_kept_authority_is_replaced():
    live, other = secret(), secret()
    k8s_tls.fill_tls(live, None, now=NOW)
    k8s_tls.fill_tls(other, None, now=NOW)
    live["data"]["tls.crt"], live["data"]["tls.key"] = other["data"]["tls.crt"], other["data"]["tls.key"]
    again = secret()
    assert k8s_tls.fill_tls(again, live, now=NOW) == ["tls.crt", "tls.key"]


def test_garbage_in_the_live_secret_is_replaced():
    live = secret()
    live["data"] = {k: base64.b64encode(b"not a certificate").decode() for k in k8s_tls.KEYS}
    again = secret()
    assert len(k8s_tls.fill_tls(again, live, now=NOW)) == 4


def test_a_bad_annotation_is_an_error():
    obj = secret()
    obj["metadata"]["annotations"][ko.ANNOTATION_GENERATE_TLS] = json.dumps({"names": NAMES, "days": 30,
                                                                            "renew_days": 30})
    with pytest.raises(k8s_tls.TlsSpecError):
        k8s_tls.fill_tls(obj, None)


def test_key_material_never_reaches_the_display_nor_the_hash():
    obj = secret()
    ko.fill_generated(obj, None)
    shown = json.dumps(ko.for_display(obj))
    assert all(value not in shown for value in obj["data"].values())
    bare = secret()
    assert ko.content_hash(obj) == ko.content_hash(bare)


def test_a_secret_store_is_told_the_four_keys():
    assert ko.generated_keys(secret()) == set(k8s_tls.KEYS)


def test_a_required_custom_resource_names_its_crd_and_variable():
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "c", "annotations": {ko.ANNOTATION_REQUIRED_BY: "postgres_tls_issuer"}}}
    assert ko.required_crd(certificate) == ("certificates.cert-manager.io", "postgres_tls_issuer")
    assert ko.required_crd({"apiVersion": "v1", "kind": "Secret", "metadata": {}}) is None


PGBOUNCER_NAMES = ["pgbouncer", "pgbouncer.ns", "pgbouncer.ns.svc", "pgbouncer.ns.svc.cluster.local"]


def with_extra(names=NAMES, cn="pgbouncer", extra_names=PGBOUNCER_NAMES, usages=("server", "client"), days=365):
    obj = secret(names=names, days=days)
    spec = json.loads(obj["metadata"]["annotations"][ko.ANNOTATION_GENERATE_TLS])
    spec["extra"] = {"pgbouncer": {"cn": cn, "names": list(extra_names), "usages": list(usages)}}
    obj["metadata"]["annotations"][ko.ANNOTATION_GENERATE_TLS] = json.dumps(spec)
    return obj


def eku(certificate):
    return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_an_extra_certificate_is_made_by_the_same_authority_for_its_name_names_and_usages():
    obj = with_extra()
    assert k8s_tls.fill_tls(obj, None, now=NOW) == [
        "ca.crt", "ca.key", "tls.crt", "tls.key", "pgbouncer.crt", "pgbouncer.key"]
    extra, ca = cert(obj, "pgbouncer.crt"), cert(obj, "ca.crt")
    assert k8s_tls.signed_by(extra, ca)
    assert k8s_tls.common_name(extra) == "pgbouncer"
    assert k8s_tls.subject_alt_names(extra) == sorted("DNS:" + n for n in PGBOUNCER_NAMES)
    assert eku(extra) == {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH}
    # The server certificate stays a server's only.
    assert eku(cert(obj)) == {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH}
    assert base64.b64decode(obj["data"]["pgbouncer.key"]) != base64.b64decode(obj["data"]["tls.key"])


def test_an_extra_certificate_is_kept_byte_for_byte_and_renewed_alone_in_its_window():
    live = with_extra()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = with_extra()
    assert k8s_tls.fill_tls(again, live, now=NOW + datetime.timedelta(days=300)) == []
    assert again["data"] == live["data"]
    # In the same order too: a re-render writes the same file.
    assert list(again["data"]) == list(live["data"])
    # Only the extra certificate is about to end: it alone is made anew.
    short, key = k8s_tls.make_certificate("pgbouncer", PGBOUNCER_NAMES, ["server", "client"], 10, NOW,
                                          cert(live, "ca.crt"), k8s_tls._load_key(base64.b64decode(live["data"]["ca.key"])))
    live["data"]["pgbouncer.crt"] = k8s_tls._b64(k8s_tls._pem_cert(short))
    live["data"]["pgbouncer.key"] = k8s_tls._b64(k8s_tls._pem_key(key))
    renewed = with_extra()
    assert k8s_tls.fill_tls(renewed, live, now=NOW) == ["pgbouncer.crt", "pgbouncer.key"]
    assert {k: renewed["data"][k] for k in k8s_tls.KEYS} == {k: live["data"][k] for k in k8s_tls.KEYS}
    assert k8s_tls.days_left(cert(renewed, "pgbouncer.crt"), NOW) > 360


@pytest.mark.parametrize("change", [{"cn": "other"}, {"extra_names": PGBOUNCER_NAMES[:1]}, {"usages": ("server",)}])
def test_an_extra_certificate_for_another_name_names_or_usages_is_made_anew(change):
    live = with_extra()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = with_extra(**change)
    assert k8s_tls.fill_tls(again, live, now=NOW) == ["pgbouncer.crt", "pgbouncer.key"]


def test_a_new_authority_makes_every_certificate_anew():
    live = with_extra()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = with_extra()
    later = NOW + datetime.timedelta(days=365 * 10 - 10)
    assert k8s_tls.fill_tls(again, live, now=later) == [
        "ca.crt", "ca.key", "tls.crt", "tls.key", "pgbouncer.crt", "pgbouncer.key"]
    assert k8s_tls.signed_by(cert(again, "pgbouncer.crt"), cert(again, "ca.crt"))


def test_an_extra_certificate_no_longer_asked_for_is_dropped_and_the_rest_kept():
    live = with_extra()
    k8s_tls.fill_tls(live, None, now=NOW)
    again = secret()
    assert k8s_tls.fill_tls(again, live, now=NOW) == []
    assert sorted(again["data"]) == sorted(k8s_tls.KEYS)
    assert again["data"]["tls.crt"] == live["data"]["tls.crt"]


@pytest.mark.parametrize("extra", [
    {"tls": {"cn": "x", "usages": ["server"]}},
    {"Bad_Name": {"cn": "x", "usages": ["server"]}},
    {"pgbouncer": {"cn": "x", "usages": ["code signing"]}},
    {"pgbouncer": {"cn": "x", "usages": []}},
    {"pgbouncer": {"usages": ["server"]}},
])
def test_a_bad_extra_certificate_is_an_error(extra):
    obj = secret()
    spec = json.loads(obj["metadata"]["annotations"][ko.ANNOTATION_GENERATE_TLS])
    obj["metadata"]["annotations"][ko.ANNOTATION_GENERATE_TLS] = json.dumps(dict(spec, extra=extra))
    with pytest.raises(k8s_tls.TlsSpecError):
        k8s_tls.fill_tls(obj, None)


def test_a_secret_store_is_told_the_extra_keys_too():
    assert ko.generated_keys(with_extra()) == set(k8s_tls.KEYS) | {"pgbouncer.crt", "pgbouncer.key"}


def test_extra_key_material_never_reaches_the_display():
    obj = with_extra()
    ko.fill_generated(obj, None)
    shown = json.dumps(ko.for_display(obj))
    assert obj["data"]["pgbouncer.key"] not in shown
