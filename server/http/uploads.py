"""Reading one uploaded file from a multipart request, with its own size limit."""

from __future__ import annotations

from sanic import Request

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
