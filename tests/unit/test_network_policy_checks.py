"""The input checks of the network_policy role: CIDRs and the egress allow-list (input_errors)."""

import pytest

from ansible_collections.edp.platform.plugins.filter.input_errors import input_errors


def errors(check, value, name="v"):
    return input_errors([{"name": name, "check": check, "value": value}])


@pytest.mark.parametrize("value", [["10.0.0.0/8"], ["192.0.2.7/32", "2001:db8::/48"], []])
def test_networks_are_accepted(value):
    assert errors("cidrs", value) == []


@pytest.mark.parametrize("value,message", [
    (["10.0.0.1"], "v[0]: '10.0.0.1' is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)"),
    (["10.0.0.256/32"], "v[0]: '10.0.0.256/32' is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)"),
    (["10.1.2.3/16"], "v[0]: '10.1.2.3/16' has host bits set: the network is 10.1.0.0/16"),
    (["::/0"], "v[0]: '::/0' is the whole internet: list the networks of the data sources and sinks"),
    ([42], "v[0]: 42 is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)"),
    ("10.0.0.0/8", "v: must be a list of CIDRs"),
])
def test_bad_networks_are_named_with_their_index(value, message):
    assert errors("cidrs", value) == [message]


def test_a_good_allow_list_passes():
    assert errors("egress_rules", [
        {"cidr": "10.20.0.0/16", "ports": [{"port": 443}, {"port": 9000, "end_port": 9100, "protocol": "TCP"}],
         "except": ["10.20.5.0/24"], "description": "object store"},
        {"cidr": "2001:db8::/48", "ports": [{"port": 53, "protocol": "UDP"}]},
        {"cidr": "192.0.2.0/24"}]) == []


def test_every_problem_of_an_allow_list_is_reported_at_once():
    assert errors("egress_rules", [
        {"cidr": "10.20.0.1/16", "ports": [{"port": 0}, {"port": 10, "end_port": 5}, {"port": 80, "protocol": "ICMP"}]},
        {"cidr": "10.30.0.0/16", "except": ["10.31.0.0/24", "10.30.0.0/16"], "to": "x"},
        "10.0.0.0/8",
    ], name="network_policy_egress_allow") == [
        "network_policy_egress_allow[0].cidr: '10.20.0.1/16' has host bits set: the network is 10.20.0.0/16",
        "network_policy_egress_allow[0].ports[0].port: 0 is not a port (1-65535)",
        "network_policy_egress_allow[0].ports[1].end_port: 5 is below port 10",
        "network_policy_egress_allow[0].ports[2].protocol: 'ICMP' is not one of TCP, UDP, SCTP",
        "network_policy_egress_allow[1]: has an unknown key 'to' (cidr, ports, except, description)",
        "network_policy_egress_allow[1].except[0]: '10.31.0.0/24' is not a network inside cidr 10.30.0.0/16",
        "network_policy_egress_allow[1].except[1]: '10.30.0.0/16' is not a network inside cidr 10.30.0.0/16",
        "network_policy_egress_allow[2]: must be a mapping with cidr and ports",
    ]
