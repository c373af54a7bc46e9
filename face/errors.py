"""Typed exceptions with stable machine codes the server can map to responses."""

from __future__ import annotations


class FaceError(Exception):
    """Base class; ``code`` is stable and safe to return to clients."""

    code: str = "face_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

class ImageError(FaceError):
    """An uploaded image was refused before or during decoding."""

    code = "bad_image"

class EmptyImageError(ImageError):
    code = "empty_image"

class NotAnImageError(ImageError):
    code = "not_an_image"

class ImageTooLargeError(ImageError):
    code = "image_too_large"

class CorruptImageError(ImageError):
    code = "corrupt_image"

class PackError(FaceError):
    """A model pack is missing, malformed or fails verification."""

    code = "pack_invalid"

class PackIntegrityError(PackError):
    """A model file's sha256 differs from its manifest: refuse to load it."""

    code = "pack_hash_mismatch"

class EngineClosedError(FaceError):
    code = "engine_closed"
