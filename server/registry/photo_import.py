"""ID-card photos from a zip of images named by the holder's ID number (e.g. 320723195001011234.jpg),
imported as a background job (server/import_jobs.py).

The archive is refused at upload if its declared entries are too many, too large or too compressed;
each entry is then read (bounded, CRC checked) and decoded off the event loop, one at a time. Entry
names are ID numbers: reports and logs carry only masked names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any
from zipfile import ZipFile, ZipInfo

from models.registry import PhotoKind
from server import import_jobs
from server.auth.scope import Scope
from server.errors import ApiError
from server.registry import service
from server.registry.id_numbers import InvalidIdNumber, normalise, parse_id_number
from server.security.uploads import ZIP_READ_ERRORS, ZipLimits, open_zip, read_entry

PHOTO_ZIP = ZipLimits(max_entries=5000, max_entry_bytes=8 * 1024 * 1024, max_total_bytes=2 * 1024 * 1024 * 1024, max_ratio=50.0, ratio_floor_bytes=256 * 1024)
# Entries are up to a few megabytes each: a small chunk keeps the job's memory small.
CHUNK = 20


def masked_name(filename: str) -> str:
    """An entry's name fit for a report or a log: photo files are named by ID number."""
    path = PurePosixPath(filename)
    stem = path.stem
    return path.name if len(stem) <= 6 else stem[:3] + "*" * (len(stem) - 5) + stem[-2:] + path.suffix


def _open(data: bytes) -> ZipFile:
    return open_zip(data, limits=PHOTO_ZIP, code="import_bad_zip")


def check_upload(filename: str, data: bytes) -> None:
    _open(data).close()


class _Entries:
    """(archive, entry, index) for every file in the archive, in order. The archive stays open after the
    last entry (the job reads entries as it handles them) until the job calls ``close``."""

    def __init__(self, archive: ZipFile) -> None:
        self.archive = archive
        self._entries = iter([(info, index) for index, info in enumerate(archive.infolist(), start=1) if not info.is_dir() and not PurePosixPath(info.filename).name.startswith(".")])

    def __iter__(self) -> Iterator[tuple[ZipFile, ZipInfo, int]]:
        return self

    def __next__(self) -> tuple[ZipFile, ZipInfo, int]:
        info, index = next(self._entries)
        return self.archive, info, index

    def close(self) -> None:
        self.archive.close()


def open_units(filename: str, data: bytes) -> _Entries:
    return _Entries(_open(data))


async def handle(context: import_jobs.JobContext, _: int, unit: tuple[ZipFile, ZipInfo, int]) -> dict[str, Any]:
    archive, info, index = unit
    uploads = context.settings.uploads

    def outcome(status: str, reason: str | None = None, message: str | None = None, **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"row": index, "status": status, **{k: v for k, v in extra.items() if v is not None}}
        if reason:
            result.update(reason=reason, message=message)
        return result

    shown = masked_name(info.filename)
    if info.file_size > uploads.max_image_bytes:
        return outcome("rejected", "file_too_large", f"{shown} 超过大小限制")
    try:
        parsed = parse_id_number(normalise(PurePosixPath(info.filename).stem))
    except InvalidIdNumber as exc:
        return outcome("rejected", "bad_id_number", f"{shown}: {exc.message}")
    beneficiary = await service.find_by_id_number(parsed.value)
    if beneficiary is None or not await context.scope.contains_station(beneficiary.station_id):
        # Out of scope reads exactly like absent.
        return outcome("rejected", "unknown_person", "未找到该身份证号码对应的人员", id_number_masked=parsed.masked)
    try:
        content = await asyncio.to_thread(read_entry, archive, info, limit=uploads.max_image_bytes)
    except ZIP_READ_ERRORS:
        # A size or CRC that does not match the data: the entry is damaged or forged.
        return outcome("rejected", "bad_entry", "压缩包中的该文件已损坏", id_number_masked=parsed.masked)
    try:
        _, created = await service.add_photo(actor=context.actor, beneficiary=beneficiary, data=content, kind=PhotoKind.ID_CARD, media_dir=context.settings.media_dir, max_pixels=uploads.max_image_pixels)
    except ApiError as exc:
        return outcome("rejected", exc.code, exc.message, id_number_masked=parsed.masked)
    return outcome("imported" if created else "unchanged", beneficiary_id=beneficiary.id, id_number_masked=parsed.masked)


def _authorise(scope: Scope) -> None:
    scope.require_write()


PHOTOS = import_jobs.register(
    import_jobs.ImportKind(
        kind="photos",
        check_upload=check_upload,
        open_units=open_units,
        handle=handle,
        columns={"imported": "imported", "unchanged": "unchanged", "rejected": "rejected"},
        audit_action="registry.photos_imported",
        progress_path="/api/beneficiaries/photos/imports/{job_id}",
        authorise=_authorise,
        chunk=CHUNK,
    )
)
