"""labelSelector: equality- and set-based requirements, as in apimachinery/labels."""

import pytest

from support import configmap

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def labelled(http):
    for name, labels in [("a", {"env": "prod", "tier": "web"}), ("b", {"env": "dev", "tier": "web"}),
                         ("c", {"env": "qa"}), ("d", {})]:
        http.post(CM, configmap(name, labels=labels))


@pytest.mark.parametrize("selector, expected", [
    ("env=prod", ["a"]),
    ("env==dev", ["b"]),
    ("env!=prod", ["b", "c", "d"]),
    ("tier=web,env!=dev", ["a"]),
    ("env in (prod, qa)", ["a", "c"]),
    ("env notin (prod,qa)", ["b", "d"]),
    ("tier", ["a", "b"]),
    ("!tier", ["c", "d"]),
    ("env in (dev),tier", ["b"]),
])
def test_label_selector(http, labelled, selector, expected):
    reply = http.get(CM, query={"labelSelector": selector})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == expected


def test_malformed_label_selector_is_400(http, labelled):
    assert http.get(CM, query={"labelSelector": "env in prod"}).status == 400
