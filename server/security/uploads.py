"""Untrusted files checked before anything reads them into memory: zip archives (XLSX is one) and images.

A zip's central directory declares each entry's uncompressed size, and Python's zipfile never
inflates an entry past its declared size (a lying entry ends early and fails its CRC), so checking
the declared sizes and ratios bounds memory and time before openpyxl or an image decoder sees a
byte. The declared worksheet dimension is checked as well: openpyxl pads every row up to it.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

from server.errors import ApiError


class UnsafeUpload(ApiError):
    status, code, message = 422, "upload_refused", "文件超出允许的大小或结构异常，已拒收"


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 2000
    max_entry_bytes: int = 512 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    # XML and CSV compress 10-30x; a bomb compresses thousands of times.
    max_ratio: float = 200.0
    # Ratios of tiny entries mean nothing (a 2 KB file of spaces compresses 100x).
    ratio_floor_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class SheetLimits:
    max_rows: int = 1_000_001  # one million data rows and a header
    max_columns: int = 256
    # openpyxl loads shared strings and styles whole: these parts must stay small.
    max_part_bytes: int = 64 * 1024 * 1024


XLSX_ZIP = ZipLimits()
SHEET = SheetLimits()
# Errors a damaged or hostile archive raises while an entry is read.
ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError)


def open_zip(source: bytes | IO[bytes], *, limits: ZipLimits, code: str = "bad_zip", message: str = "不是有效的ZIP文件") -> zipfile.ZipFile:
    """Open an archive and refuse it if its declared entries are too many, too large or too compressed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
        raise ApiError(message, code=code, status=422) from None
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        archive.close()
        raise UnsafeUpload("压缩包内文件过多", code="zip_too_many_entries", max_entries=limits.max_entries)
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.max_entry_bytes or total > limits.max_total_bytes:
            archive.close()
            raise UnsafeUpload("压缩包内文件解压后过大", code="zip_too_large")
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            archive.close()
            raise UnsafeUpload("压缩比异常（疑似压缩炸弹）", code="zip_ratio")
    return archive


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, limit: int) -> bytes:
    """An entry's bytes, never more than ``limit``; a lying size or bad CRC raises ``zipfile.BadZipFile``."""
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise zipfile.BadZipFile("entry larger than allowed")
    return data


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Z]{1,3})\$?([0-9]{1,7}))?"')


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ch - 64)
    return number


def check_xlsx(source: bytes | IO[bytes], *, zip_limits: ZipLimits = XLSX_ZIP, sheet: SheetLimits = SHEET) -> None:
    """Refuse an XLSX whose parts or declared dimensions would make openpyxl allocate without bound."""
    archive = open_zip(source, limits=zip_limits, code="import_bad_xlsx", message="不是有效的XLSX文件")
    with archive:
        for info in archive.infolist():
            name = info.filename.lower()
            is_sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
            if not is_sheet and name.endswith(".xml") and info.file_size > sheet.max_part_bytes:
                raise UnsafeUpload("表格中的共享数据过大", code="xlsx_part_too_large", part=info.filename[:100])
            if not is_sheet:
                continue
            try:
                with archive.open(info) as handle:
                    head = handle.read(64 * 1024)
            except ZIP_READ_ERRORS:
                raise ApiError("不是有效的XLSX文件", code="import_bad_xlsx", status=422) from None
            match = _DIMENSION.search(head)
            if match is None:
                continue
            last_col, last_row = (match.group(3), match.group(4)) if match.group(3) else (match.group(1), match.group(2))
            rows, columns = int(last_row), _column_number(last_col)
            if rows > sheet.max_rows or columns > sheet.max_columns:
                raise UnsafeUpload(
                    f"表格声明的范围过大（{columns}列×{rows}行），请只保留数据区域后重新导出",
                    code="xlsx_dimension_too_large",
                    declared_rows=rows,
                    declared_columns=columns,
                    max_rows=sheet.max_rows,
                    max_columns=sheet.max_columns,
                )


class BadImage(ApiError):
    status, code, message = 422, "bad_image", "图片无法解码，请重新拍摄或上传"


def check_image(data: bytes, *, max_pixels: int) -> tuple[int, int]:
    """Decode the whole image after checking its declared size; returns (width, height).

    Photos are decoded again by every face check later: one that cannot be decoded must be refused
    now, not stored to fail every time. Runs in a thread (decoding takes milliseconds to seconds).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise BadImage("图片尺寸过大或异常", code="image_too_large", width=width, height=height, max_pixels=max_pixels)
            if image.format not in ("JPEG", "PNG"):
                raise BadImage("只支持JPG和PNG图片", code="unsupported_image")
            image.load()
    except BadImage:
        raise
    except Image.DecompressionBombError:
        raise BadImage("图片尺寸过大或异常", code="image_too_large", max_pixels=max_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise BadImage() from None
    return width, height
