"""Stored reference photos held to today's decode checks (``python -m server check-photos``).

Photos stored before uploads were decoded on arrival (a 60000x60000 PNG header, JPEG magic then
garbage) make every face check of their person fail. This finds every reference photo that fails
``check_image`` now (or whose file is gone), quarantines it — no longer a reference (``is_active``
false), ``quarantined_at`` and a reason code set, one audit entry each — and reports it, so the station
can ask the person to submit a new photo. Photos are read and decoded in a thread, a page at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.registry import Beneficiary, ReferencePhoto
from server import media
from server.actors import SYSTEM, Actor
from server.audit import service as audit
from server.errors import ApiError
from server.security.uploads import check_image

PAGE = 200


@dataclass
class QuarantinedPhoto:
    photo_id: int
    beneficiary_id: int
    station_id: int
    id_number_masked: str
    kind: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def photo_problem(media_dir: Path, relative_path: str, *, max_pixels: int) -> str | None:
    """The reason code a stored photo fails today's checks for, or None if it passes. Blocking."""
    try:
        data = media.resolve(media_dir, relative_path).read_bytes()
    except (OSError, ApiError):
        return "file_missing"
    try:
        media.sniff_type(data, allowed=media.IMAGE_TYPES)
        check_image(data, max_pixels=max_pixels)
    except ApiError as exc:
        return exc.code
    except Exception:  # noqa: BLE001  (whatever the decoder raises, the photo is unusable)
        return "image_undecodable"
    return None


async def quarantine_undecodable_photos(*, media_dir: Path, max_pixels: int, actor: Actor = SYSTEM, now: datetime | None = None) -> tuple[int, list[QuarantinedPhoto]]:
    """Check every reference photo not yet quarantined; returns (photos checked, photos quarantined)."""
    now = now or datetime.now(UTC)
    checked = 0
    quarantined: list[QuarantinedPhoto] = []
    last_id = 0
    while True:
        page = await ReferencePhoto.filter(quarantined_at__isnull=True, id__gt=last_id).order_by("id").limit(PAGE).values("id", "beneficiary_id", "path", "kind", "sha256", "is_active")
        if not page:
            break
        last_id = page[-1]["id"]
        for photo in page:
            checked += 1
            reason = await asyncio.to_thread(photo_problem, media_dir, photo["path"], max_pixels=max_pixels)
            if reason is None:
                continue
            kind = getattr(photo["kind"], "value", photo["kind"])
            await ReferencePhoto.filter(id=photo["id"]).update(is_active=False, quarantined_at=now, quarantine_reason=reason[:64])
            person = await Beneficiary.get(id=photo["beneficiary_id"]).only("id", "station_id", "id_number_masked")
            await audit.record(
                actor=actor,
                action="beneficiary.photo_quarantined",
                entity_type="beneficiary",
                entity_id=person.id,
                details={"photo_id": photo["id"], "kind": kind, "sha256": photo["sha256"], "reason": reason, "was_active": photo["is_active"]},
            )
            quarantined.append(QuarantinedPhoto(photo_id=photo["id"], beneficiary_id=person.id, station_id=person.station_id, id_number_masked=person.id_number_masked, kind=kind, reason=reason))
    return checked, quarantined
