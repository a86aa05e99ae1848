"""Raw requests to the API emulator, for what kubectl and Ansible do not do (register or delete a
CRD, create an object as a controller would)."""

import json
import urllib.error
import urllib.request


def request(emulator, method, path, body=None, query=""):
    """(status, parsed body) of a request; on an error status, the start of its text."""
    req = urllib.request.Request(emulator.url + path + query, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()[:800]


# cert-manager's CRDs the tests load into the emulator (tests/crds).
CERT_MANAGER_CRDS = ("certificates", "issuers")


def without_cert_manager(emulator):
    """Remove cert-manager's CRDs from the emulator, as on a cluster without cert-manager."""
    for plural in CERT_MANAGER_CRDS:
        status, body = request(emulator, "DELETE",
                               "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/%s.cert-manager.io" % plural)
        assert status in (200, 202), body
