"""Photos stored before uploads were decoded on arrival: found, quarantined, reported, audited."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import httpx
from sanic import Sanic

from models.audit import AuditEntry
from models.registry import PhotoKind, ReferencePhoto
from models.staff import Role
from server import media
from server.registry.photo_checks import quarantine_undecodable_photos
from tests.factories import make_beneficiary, make_county, staff_headers
from tests.registry.test_registry_api import _tiny_png


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a 60000x60000 image and holds no pixels (the decompression-bomb header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


async def _stored_as_before(beneficiary_id: int, data: bytes, media_dir: Path, kind: PhotoKind = PhotoKind.ID_CARD) -> ReferencePhoto:
    """Stored the way uploads were before they were decoded: type sniffed, nothing else."""
    stored = media.store(media_dir, data, category="photos", allowed=media.IMAGE_TYPES)
    return await ReferencePhoto.create(beneficiary_id=beneficiary_id, kind=kind, sha256=stored.sha256, path=stored.path, content_type=stored.content_type, size_bytes=stored.size_bytes)


async def test_undecodable_stored_photos_are_quarantined_reported_and_audited(client: httpx.AsyncClient, app: Sanic) -> None:
    settings = app.ctx.settings
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    good_person = await make_beneficiary(station=county.station_a, name="好照片")
    uploaded = await client.post(f"/api/beneficiaries/{good_person.id}/photos", headers=headers, files={"file": ("a.png", _tiny_png(), "image/png")})
    assert uploaded.status_code == 201, uploaded.text
    bomb_person = await make_beneficiary(station=county.station_a, name="巨图")
    garbage_person = await make_beneficiary(station=county.station_a, name="坏图")
    bomb = await _stored_as_before(bomb_person.id, _png_header_only(60000, 60000), settings.media_dir)
    garbage = await _stored_as_before(garbage_person.id, b"\xff\xd8\xff\xe0" + b"not a jpeg at all" * 40, settings.media_dir, kind=PhotoKind.STATION_CAPTURE)
    # Today's upload refuses both.
    refused = await client.post(f"/api/beneficiaries/{bomb_person.id}/photos", headers=headers, files={"file": ("b.png", _png_header_only(60000, 60000), "image/png")})
    assert refused.status_code >= 400 and refused.status_code < 500

    checked, quarantined = await quarantine_undecodable_photos(media_dir=settings.media_dir, max_pixels=settings.uploads.max_image_pixels)
    assert checked == 3
    found = {q.photo_id: q for q in quarantined}
    assert set(found) == {bomb.id, garbage.id}
    assert found[bomb.id].reason == "image_too_large" and found[bomb.id].id_number_masked == bomb_person.id_number_masked
    assert found[garbage.id].beneficiary_id == garbage_person.id and found[garbage.id].station_id == county.station_a.id
    for photo_id in found:
        photo = await ReferencePhoto.get(id=photo_id)
        assert not photo.is_active and photo.quarantined_at is not None and photo.quarantine_reason == found[photo_id].reason
        entry = await AuditEntry.get(action="beneficiary.photo_quarantined", entity_id=str(photo.beneficiary_id))
        assert entry.summary["details"]["photo_id"] == photo_id
    assert (await ReferencePhoto.get(beneficiary_id=good_person.id)).is_active
    # The person's page shows why the photo no longer counts.
    bureau = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    detail = (await client.get(f"/api/beneficiaries/{bomb_person.id}", headers=bureau)).json()
    assert [p["quarantine_reason"] for p in detail["photos"]] == ["image_too_large"]
    # A second run checks only what is not yet quarantined and finds nothing new.
    again_checked, again = await quarantine_undecodable_photos(media_dir=settings.media_dir, max_pixels=settings.uploads.max_image_pixels)
    assert (again_checked, again) == (1, [])


async def test_a_photo_whose_file_is_gone_is_quarantined(client: httpx.AsyncClient, app: Sanic) -> None:
    settings = app.ctx.settings
    county = await make_county()
    person = await make_beneficiary(station=county.station_a)
    photo = await ReferencePhoto.create(beneficiary_id=person.id, kind=PhotoKind.ID_CARD, sha256="f" * 64, path="photos/ff/missing.png", content_type="image/png", size_bytes=10)
    _, quarantined = await quarantine_undecodable_photos(media_dir=settings.media_dir, max_pixels=settings.uploads.max_image_pixels)
    assert [(q.photo_id, q.reason) for q in quarantined] == [(photo.id, "file_missing")]
