from __future__ import annotations

from datetime import date

import pytest

from server.registry.id_numbers import InvalidIdNumber, checksum_char, make_id_number, mask_id_number, parse_id_number


def test_known_valid_number_with_x_checksum() -> None:
    # The GB 11643 worked example: 11010519491231002X
    parsed = parse_id_number("11010519491231002x")
    assert parsed.value == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"


def test_checksum_and_sex_derivation() -> None:
    number = make_id_number("320723", date(1938, 2, 3), 17, male=True)
    parsed = parse_id_number(number)
    assert parsed.sex == "male"
    assert parsed.birth_date == date(1938, 2, 3)
    assert number[-1] == checksum_char(number[:17])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("32072319380203001", "bad_format"),
        ("3207231938020300AB", "bad_format"),
        ("320723193802030010", "bad_checksum"),
        ("320723193802300010", "bad_birth_date"),
    ],
)
def test_invalid_numbers(raw: str, reason: str) -> None:
    if reason == "bad_birth_date":
        raw = raw[:17] + checksum_char(raw[:17])
    elif reason == "bad_checksum":
        good = checksum_char(raw[:17])
        raw = raw[:17] + ("1" if good != "1" else "2")
    with pytest.raises(InvalidIdNumber) as info:
        parse_id_number(raw)
    assert info.value.reason == reason


def test_mask() -> None:
    assert mask_id_number("320723193802030017") == "320723********0017"
