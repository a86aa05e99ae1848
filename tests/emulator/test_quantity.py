"""``kube_emulator.quantity``: ``resource.ParseQuantity`` and ``Quantity.String()``."""

from decimal import Decimal

import pytest

from kube_emulator import quantity

FORMAT = quantity.ERR_FORMAT
SUFFIX = quantity.ERR_SUFFIX


@pytest.mark.parametrize("text, value", [
    ("1", "1"), ("0", "0"), ("+5", "5"), ("-1", "-1"), ("1.5", "1.5"), (".5", "0.5"), ("5.", "5"),
    ("100m", "0.1"), ("250m", "0.25"), ("100n", "1E-7"), ("3u", "0.000003"), ("2k", "2000"), ("1M", "1000000"),
    ("1G", "1E+9"), ("1Ki", "1024"), ("1Mi", "1048576"), ("4Gi", "4294967296"), ("1.5Gi", "1610612736"),
    ("1e3", "1000"), ("1E3", "1000"), ("5e-3", "0.005"), ("12e+2", "1200"), ("1P", "1E+15"),
    ("2Ei", "2305843009213693952"),
    (" 2Gi ", "2147483648"),
    ("Gi", "0"), (".", "0"), ("1.G", "1E+9"),  # the Go parser's leniencies, kept
])
def test_valid_quantities(text, value):
    assert quantity.parse(text).value == Decimal(value)


@pytest.mark.parametrize("number, value", [(1, "1"), (0.5, "0.5"), (2.0, "2"), (1e-07, "1E-7"), (-3, "-3")])
def test_bare_json_numbers_read_as_their_text(number, value):
    assert quantity.parse(number).value == Decimal(value)


@pytest.mark.parametrize("text, error", [
    ("2GB", FORMAT), ("two", FORMAT), ("", FORMAT), ("1.2.3", FORMAT), ("1 Gi", FORMAT), ("1e3.5", FORMAT),
    ("0x10", FORMAT), ("1_000", FORMAT),
    ("2K", SUFFIX), ("1mm", SUFFIX), ("5e", SUFFIX), ("1Ki2", SUFFIX), ("3kk", SUFFIX), ("1Gi1", SUFFIX),
    ("--1", SUFFIX),
])
def test_invalid_quantities_fail_with_the_go_messages(text, error):
    with pytest.raises(quantity.QuantityError) as exc:
        quantity.parse(text)
    assert str(exc.value) == error


@pytest.mark.parametrize("raw", [True, None, [], {}])
def test_non_scalars_are_not_quantities(raw):
    assert not quantity.is_valid(raw)


def test_sub_nano_values_round_up_like_the_server():
    assert quantity.parse("0.1n").value == Decimal("1e-9")
    assert quantity.parse("-0.1n").value == Decimal("-1e-9")


@pytest.mark.parametrize("text, canonical", [
    ("1000m", "1"), ("0.5", "500m"), ("1500m", "1500m"), ("1.5", "1500m"), ("2", "2"), ("100m", "100m"),
    ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"), ("512Mi", "512Mi"), ("0.5Gi", "512Mi"), ("0.5Ki", "512"),
    ("1Ki", "1Ki"), ("1e3", "1e3"), ("1500", "1500"), ("1.5k", "1500"), ("2000", "2k"), ("-1Gi", "-1Gi"),
    ("0", "0"), ("0Gi", "0"), ("100n", "100n"), ("1u", "1u"), ("12345678901", "12345678901"),
])
def test_canonical_form_is_what_the_server_prints(text, canonical):
    assert str(quantity.parse(text)) == canonical


def test_quantities_compare_by_value():
    assert quantity.parse("1") == quantity.parse("1000m")
    assert quantity.parse("1025Mi") > quantity.parse("1Gi")
    assert quantity.parse("-1") < quantity.parse("0")
