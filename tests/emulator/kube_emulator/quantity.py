"""Resource quantities (``k8s.io/apimachinery/pkg/api/resource``), as the server reads them.

:func:`parse` follows ``resource.ParseQuantity`` step by step, so it accepts and
refuses exactly what the real decoder does and fails with its words:

* ``quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'``
  (``ErrFormatWrong``: ``2GB``, ``two``, ``1.2.3``);
* ``unable to parse quantity's suffix`` (``ErrSuffix``: ``2K``, ``1mm``, ``5e``).

Grammar::

    <quantity>        ::= <signedNumber><suffix>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>

Like the real server, non-zero values are rounded up (away from zero) to the
nano unit.  ``str(quantity)`` is the canonical form the server prints in messages
and stores (``1000m`` -> ``1``, ``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``).
"""

from __future__ import annotations

import re
from decimal import ROUND_UP, Decimal
from functools import total_ordering
from typing import Any

FORMAT_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{FORMAT_PATTERN}'"
ERR_SUFFIX = "unable to parse quantity's suffix"

BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_BY_EXP = {0: "", **{exp // 10: suffix for suffix, exp in _BINARY.items()}}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_NANO = Decimal("1e-9")


class QuantityError(ValueError):
    """The value is not a quantity; ``str()`` is the real decoder's message."""


@total_ordering
class Quantity:
    __slots__ = ("value", "format")

    def __init__(self, value: Decimal, fmt: str = DECIMAL_SI):
        self.value = value
        self.format = fmt

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __lt__(self, other: "Quantity") -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __str__(self) -> str:
        return canonical(self.value, self.format)


def _split(text: str) -> tuple[bool, str, str, str]:
    """``parseQuantityString``: (positive, numerator, denominator, suffix)."""
    pos, end = 0, len(text)
    positive = True
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    start = pos
    while pos < end and text[pos].isdigit():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit():
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit():
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return positive, num, denom, text[suffix_start:end]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, as ``quantitySuffixer.interpret``."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], DECIMAL_SI
    if suffix in _BINARY:
        return 2, _BINARY[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        return 10, int(suffix[1:]), DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def parse(raw: Any) -> Quantity:
    """Parse a quantity as found in a JSON body (string, or a bare number)."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise QuantityError(ERR_FORMAT)
    text = raw.strip() if isinstance(raw, str) else _number_text(raw)
    if not text:
        raise QuantityError(ERR_FORMAT)
    positive, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    value = Decimal(f"{num}.{denom or '0'}")
    value = value * (Decimal(2) ** exponent if base == 2 else Decimal(10) ** exponent)
    if not positive:
        value = -value
    if value != 0:
        value = value.quantize(_NANO, rounding=ROUND_UP) if value.as_tuple().exponent < -9 else value
    return Quantity(value.normalize() if value != 0 else Decimal(0), fmt)


def _number_text(number: int | float) -> str:
    """How a bare JSON number reads as a quantity (Go sees the number's own text)."""
    if isinstance(number, int):
        return str(number)
    text = repr(number)
    return text[:-2] if text.endswith(".0") else text


def is_valid(raw: Any) -> bool:
    try:
        parse(raw)
    except QuantityError:
        return False
    return True


def canonical(value: Decimal, fmt: str) -> str:
    """``Quantity.String()``: canonical text of ``value`` in (about) format ``fmt``."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (abs(value) < 1024 or value != value.to_integral_value()):
        fmt = DECIMAL_SI  # small or fractional binary values print as decimal, like Go
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if fmt == BINARY_SI:
        number, exp = int(magnitude), 0
        while number % 1024 == 0 and exp < 6:
            number //= 1024
            exp += 1
        return f"{sign}{number}{_BINARY_BY_EXP[exp]}"
    digits, exp = _mantissa(magnitude)
    shift = exp % 3  # 0, 1 or 2: lower the exponent to a multiple of three
    digits, exp = digits * 10 ** shift, exp - shift
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{digits}{'' if exp == 0 else f'e{exp}'}"
    if exp in _DECIMAL_BY_EXP:
        return f"{sign}{digits}{_DECIMAL_BY_EXP[exp]}"
    return f"{sign}{digits}e{exp}"


def _mantissa(value: Decimal) -> tuple[int, int]:
    """``value`` as ``digits * 10**exp`` with no trailing zeros in ``digits``."""
    _, digit_tuple, exp = value.normalize().as_tuple()
    digits = int("".join(map(str, digit_tuple)))
    return digits, int(exp)
