"""Roster uploads are streamed to disk: bigger than the general request limit is fine up to the roster
limit, beyond it a 413 with its code; the multipart reader copes with any chunking."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sanic import Sanic

from models.registry import Beneficiary
from models.staff import Role
from server.errors import ApiError
from server.http.uploads import spool_upload
from tests.factories import make_county, staff_headers, unique_id_number

PADDING = "x" * 20_000  # an unknown column: read and ignored, so the file is large but quick to import


def _roster(station: str, people: list[tuple[str, str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["姓名", "身份证号", "类别", "服务站", "备注"])
    for name, number in people:
        writer.writerow([name, number, "参战退役人员", station, PADDING])
    return buffer.getvalue().encode(encoding)


async def test_a_roster_above_the_general_request_limit_is_streamed_and_imported(client: httpx.AsyncClient, app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    people = [(f"张{n}", unique_id_number()) for n in range(10)]
    data = _roster(county.station_a.code, people, "gb18030")  # ~200 kB, GBK as county offices save it
    monkeypatch.setitem(app.config, "REQUEST_MAX_SIZE", 64 * 1024)
    async with httpx.AsyncClient(base_url=app.ctx.test_base_url, timeout=30) as fresh:  # a new connection reads the new limit
        # Other uploads keep the small general limit.
        other = await fresh.post("/api/payment-files", headers=headers, files={"file": ("p.csv", data, "text/csv")})
        assert other.status_code == 413 and other.json()["error"]["code"] == "payload_too_large"
    async with httpx.AsyncClient(base_url=app.ctx.test_base_url, timeout=30) as fresh:
        response = await fresh.post("/api/beneficiaries/import", headers=headers, data={"note": "前置字段"}, files={"file": ("名册（伊山镇）.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["filename"] == "名册（伊山镇）.csv" and report["imported"] == 10 and report["rejected"] == 0
    assert await Beneficiary.filter(name__startswith="张").count() == 10


async def test_a_roster_over_its_own_limit_is_a_413_with_code_declared_or_chunked(client: httpx.AsyncClient, app: Sanic, monkeypatch: pytest.MonkeyPatch) -> None:
    county = await make_county()
    headers = await staff_headers(client, role=Role.STATION, unit=county.station_a)
    monkeypatch.setattr(app.ctx.settings.uploads, "max_registry_import_bytes", 100_000)
    data = _roster(county.station_a.code, [(f"李{n}", unique_id_number()) for n in range(10)])
    declared = await client.post("/api/beneficiaries/import", headers=headers, files={"file": ("r.csv", data, "text/csv")})
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"
    request = client.build_request("POST", "/api/beneficiaries/import", headers=headers, files={"file": ("r.csv", data, "text/csv")})
    body = request.read()

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    streamed = await client.post("/api/beneficiaries/import", headers={**headers, "Content-Type": request.headers["Content-Type"]}, content=chunked())
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"
    assert await Beneficiary.filter(name__startswith="李").count() == 0
    assert not list((app.ctx.settings.var_dir / "imports").glob("upload-*.part"))  # nothing left behind
    missing = await client.post("/api/beneficiaries/import", headers=headers, data={"x": "1"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_file"


class _Stream:
    def __init__(self, body: bytes, size: int) -> None:
        self.pieces = [body[i:i + size] for i in range(0, len(body), size)]

    async def read(self) -> bytes | None:
        return self.pieces.pop(0) if self.pieces else None


def _request(body: bytes, content_type: str, size: int) -> Any:
    return SimpleNamespace(headers={"content-type": content_type}, stream=_Stream(body, size))


@pytest.mark.parametrize("size", [1, 7, 41, 4096])
async def test_the_multipart_reader_finds_the_file_however_the_body_is_cut(tmp_path: Path, size: int) -> None:
    payload = b"\r\n--not-the-boundary\r\n" + bytes(range(256)) * 40 + b"\r\n-"
    request = httpx.Request("POST", "http://x/", data={"a": "1", "file": "not a file"}, files={"file": ("名册.xlsx", payload, "application/octet-stream"), "other": ("o.txt", b"zzz")})
    body = request.read()
    upload = await spool_upload(_request(body, request.headers["content-type"], size), "file", limit=len(payload), directory=tmp_path)
    assert upload.name == "名册.xlsx" and upload.path.read_bytes() == payload and upload.size == len(payload)
    with pytest.raises(ApiError) as too_big:
        await spool_upload(_request(body, request.headers["content-type"], size), "file", limit=len(payload) - 1, directory=tmp_path)
    assert too_big.value.status == 413
    with pytest.raises(ApiError) as cut:
        await spool_upload(_request(body[: len(body) // 2], request.headers["content-type"], size), "file", limit=len(payload), directory=tmp_path)
    assert cut.value.code in ("bad_multipart", "missing_file")
    assert sorted(p.name for p in tmp_path.iterdir()) == [upload.path.name]  # refused uploads leave no file


async def _http_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on an open connection and read its answer (Content-Length framed)."""
    writer.write(request)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    return int(lines[0].split()[1]), await asyncio.wait_for(reader.readexactly(length), 30)


async def test_the_connection_stays_usable_after_a_streamed_upload(client: httpx.AsyncClient, app: Sanic, caplog: pytest.LogCaptureFixture) -> None:
    # A clerk's page uploads the roster and then polls its progress on the same keep-alive connection.
    # The upload is read to its end (the closing delimiter's "--\r\n" included): a half-read body is
    # an error in Sanic's log on every upload.
    county = await make_county()
    headers = await staff_headers(client, role=Role.BUREAU, unit=county.district)
    data = _roster(county.station_a.code, [(f"赵{n}", unique_id_number()) for n in range(3)])
    built = client.build_request("POST", "/api/beneficiaries/import", headers=headers, files={"file": ("r.csv", data, "text/csv")})
    body = built.read()
    url = httpx.URL(app.ctx.test_base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        fields = "".join(f"{k}: {v}\r\n" for k, v in built.headers.items() if k.lower() not in ("host", "content-length", "connection"))
        upload = f"POST /api/beneficiaries/import HTTP/1.1\r\nHost: {url.host}\r\n{fields}Content-Length: {len(body)}\r\n\r\n".encode() + body
        status, _ = await _http_exchange(reader, writer, upload)
        assert status in (200, 202)
        status, answer = await _http_exchange(reader, writer, f"GET /healthz HTTP/1.1\r\nHost: {url.host}\r\n\r\n".encode())
        assert status == 200 and answer
    finally:
        writer.close()
    assert not [r for r in caplog.records if "body not consumed" in r.getMessage()]
