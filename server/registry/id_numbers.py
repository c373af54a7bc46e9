"""Resident identity numbers (GB 11643-1999): 18 characters, the last a checksum (0-9 or X)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


class InvalidIdNumber(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    sex: str  # "male" / "female"

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)


def checksum_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise(raw: str) -> str:
    return raw.strip().replace(" ", "").upper()


def parse_id_number(raw: str) -> IdNumber:
    value = normalise(raw)
    if not _SHAPE.match(value):
        raise InvalidIdNumber("bad_format", "身份证号码应为18位（最后一位可为X）")
    if checksum_char(value[:17]) != value[17]:
        raise InvalidIdNumber("bad_checksum", "身份证号码校验位不正确")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber("bad_birth_date", "身份证号码中的出生日期无效") from exc
    if birth.year < 1890 or birth > date.today():
        raise InvalidIdNumber("bad_birth_date", "身份证号码中的出生日期无效")
    sex = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_date=birth, sex=sex)


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * 8 + value[-4:]


def make_id_number(region: str, birth: date, sequence: int, *, male: bool) -> str:
    """Build a valid number (for demo data and tests): region (6 digits), birth date, 3-digit sequence."""
    seq = sequence % 1000
    if (seq % 2 == 1) != male:
        seq = (seq + 1) % 1000
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + checksum_char(first17)
