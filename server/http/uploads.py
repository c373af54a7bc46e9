"""Reading one uploaded file from a multipart request, with its own size limit: small ones from the
body Sanic has read (``required_upload``), large ones streamed to disk as they arrive (``spool_upload``)."""

from __future__ import annotations

import email.utils
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sanic import Request
from sanic.headers import parse_content_header

from server.errors import BadRequest, PayloadTooLarge


def required_upload(request: Request, field: str, *, limit: int) -> tuple[str, bytes]:
    """(filename, bytes) of the file in ``field``; missing, empty or too large are clear 4xx errors."""
    upload = request.files.get(field) if request.files else None
    if upload is None:
        raise BadRequest(f"缺少上传文件字段 {field}", code="missing_file")
    if not upload.body:
        raise BadRequest("上传的文件为空", code="empty_file")
    if len(upload.body) > limit:
        raise PayloadTooLarge(limit_bytes=limit)
    return upload.name or "upload", upload.body


# ---- large uploads: the body streamed to a file, never held in memory -------------------------------

# Multipart framing and the other (small) form fields allowed around the file.
FORM_OVERHEAD_BYTES = 64 * 1024
_PART_HEADERS_MAX = 16 * 1024
_CHUNK_WRITE = 1 << 20


@dataclass
class SpooledUpload:
    """An uploaded file written to ``path`` while it arrived (delete it when done)."""

    name: str
    path: Path
    size: int


def _boundary(request: Request) -> bytes:
    content_type, params = parse_content_header(request.headers.get("content-type", ""))
    boundary = params.get("boundary")
    if content_type != "multipart/form-data" or not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise BadRequest("缺少上传文件字段 file", code="missing_file")
    return boundary.encode("latin-1")


def _part_headers(block: bytes) -> tuple[str | None, str | None]:
    """(field name, file name) from a part's header lines."""
    name = filename = None
    for line in block.decode("utf-8", "replace").split("\r\n"):
        field_name, _, value = line.partition(":")
        if field_name.strip().lower() != "content-disposition":
            continue
        _, params = parse_content_header(value.strip())
        name = params.get("name")
        filename = params.get("filename")
        if filename is None and params.get("filename*"):
            encoding, _, raw = email.utils.decode_rfc2231(str(params["filename*"]))
            filename = unquote(raw, encoding=encoding or "utf-8")
    return (str(name) if name is not None else None), (unicodedata.normalize("NFC", str(filename)) if filename is not None else None)


async def spool_upload(request: Request, field: str, *, limit: int, directory: Path) -> SpooledUpload:
    """The file in ``field`` of a streamed multipart request (route declared with ``stream=True``),
    written to a new file under ``directory`` as it arrives: memory stays flat whatever the size.

    Missing or empty is a 400, over ``limit`` a 413 ``payload_too_large`` (refused from the declared
    Content-Length before reading anything when it is known). Other form fields are skipped."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
        raise PayloadTooLarge(limit_bytes=limit)
    # Sanic types request.stream as its protocol base class; HTTP/1.1 and HTTP/3 both implement read().
    stream: Any = request.stream
    if stream is None:
        raise BadRequest(f"缺少上传文件字段 {field}", code="missing_file")
    boundary = _boundary(request)
    delimiter = b"\r\n--" + boundary
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"upload-{uuid.uuid4().hex}.part"
    # The body starts with "--boundary"; prefixing CRLF makes every delimiter the same "\r\n--boundary".
    buffer = bytearray(b"\r\n")
    received = 0
    found: SpooledUpload | None = None
    state = "preamble"  # preamble -> headers -> body (ours or skipped) -> headers ... -> done
    writing = False
    out = None
    try:
        while state != "done":
            chunk = await stream.read()
            if chunk is None:
                break
            received += len(chunk)
            if received > limit + FORM_OVERHEAD_BYTES:
                raise PayloadTooLarge(limit_bytes=limit)
            buffer += chunk
            while True:
                if state == "preamble":
                    at = buffer.find(delimiter)
                    if at < 0:
                        del buffer[: max(0, len(buffer) - len(delimiter))]
                        break
                    del buffer[: at + len(delimiter)]
                    state = "after_delimiter"
                if state == "after_delimiter":
                    if len(buffer) < 2:
                        break
                    if buffer[:2] == b"--":
                        state = "done"
                        break
                    state = "headers"
                if state == "headers":
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buffer) > _PART_HEADERS_MAX:
                            raise BadRequest("上传内容格式错误", code="bad_multipart")
                        break
                    name, filename = _part_headers(bytes(buffer[:end]))
                    del buffer[: end + 4]
                    writing = found is None and name == field and filename is not None
                    if writing:
                        out = path.open("wb")
                        found = SpooledUpload(name=filename or "upload", path=path, size=0)
                    state = "body"
                if state == "body":
                    at = buffer.find(delimiter)
                    # Without a delimiter, all but its possible beginning at the end can go.
                    take = at if at >= 0 else max(0, len(buffer) - len(delimiter) + 1)
                    if writing and out is not None and found is not None and take:
                        found.size += take
                        if found.size > limit:
                            raise PayloadTooLarge(limit_bytes=limit)
                        out.write(buffer[:take])
                    del buffer[:take]
                    if at < 0:
                        break
                    del buffer[: len(delimiter)]
                    if writing and out is not None:
                        out.close()
                        out = None
                        writing = False
                    state = "after_delimiter"
        if out is not None:
            out.close()
            out = None
        # Read what follows the closing delimiter ("--\r\n", an epilogue) to the end of the body: a
        # request left half-read makes Sanic close the connection after answering, and a client reusing
        # it for its next request (a progress poll) then fails with a broken connection.
        while state == "done" and (chunk := await stream.read()) is not None:
            received += len(chunk)
            if received > limit + FORM_OVERHEAD_BYTES:
                raise PayloadTooLarge(limit_bytes=limit)
        if found is None:
            raise BadRequest(f"缺少上传文件字段 {field}", code="missing_file")
        if state != "done":
            raise BadRequest("上传内容不完整", code="bad_multipart")
        if found.size == 0:
            raise BadRequest("上传的文件为空", code="empty_file")
        return found
    except BaseException:
        if out is not None:
            out.close()
        path.unlink(missing_ok=True)
        raise
