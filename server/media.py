"""Content-addressed file storage under the media directory (photos, signed forms, evidence)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from server.errors import ApiError

_SIGNATURES: list[tuple[bytes, str, str]] = [
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
]


class UnsupportedFile(ApiError):
    status, code, message = 415, "unsupported_file", "文件格式不支持，请上传JPG、PNG或PDF"


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to the media directory
    sha256: str
    content_type: str
    size_bytes: int


def sniff_type(data: bytes, *, allowed: set[str]) -> tuple[str, str]:
    """The real type from the file's first bytes; a name or a client's content type is not trusted."""
    if not data:
        raise ApiError("上传的文件为空", code="empty_file", status=400)
    for magic, content_type, ext in _SIGNATURES:
        if data.startswith(magic) and content_type in allowed:
            return content_type, ext
    raise UnsupportedFile(allowed=sorted(allowed))


def store(media_dir: Path, data: bytes, *, category: str, allowed: set[str]) -> StoredFile:
    content_type, ext = sniff_type(data, allowed=allowed)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(category) / digest[:2] / f"{digest}.{ext}"
    target = media_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a half-written file under the final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return StoredFile(path=relative.as_posix(), sha256=digest, content_type=content_type, size_bytes=len(data))


def store_report(media_dir: Path, data: bytes) -> str:
    """Keep a generated XLSX report (a zip, so not taken by ``store``'s sniffed types); returns its path."""
    digest = hashlib.sha256(data).hexdigest()
    relative = Path("reports") / f"{digest}.xlsx"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative.as_posix()


def resolve(media_dir: Path, relative: str) -> Path:
    path = (media_dir / relative).resolve()
    if media_dir.resolve() not in path.parents:
        raise ApiError("非法路径", code="bad_path", status=400)
    return path


IMAGE_TYPES = {"image/jpeg", "image/png"}
DOCUMENT_TYPES = {"image/jpeg", "image/png", "application/pdf"}
