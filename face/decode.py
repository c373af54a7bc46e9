"""Decoding of untrusted image bytes (uploads from phones).

Header dimensions are parsed by hand *before* any decoder runs, so a small
file that declares a gigantic canvas (a "pixel bomb") is refused without
allocating memory for it. Only JPEG, PNG and uncompressed BMP are accepted:
JPEG/PNG is what the mini-program camera produces, BMP is what ID-card
readers emit for the chip photo; that is a smaller attack surface than
"anything OpenCV can read".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import CorruptImageError, EmptyImageError, ImageTooLargeError, NotAnImageError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"
# SOF markers carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC)
# share the range but are not frames.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int


def _png_header(data: bytes) -> ImageHeader:
    # IHDR must be the first chunk: length(4)=13, type(4), width(4), height(4).
    if len(data) < 33:
        raise CorruptImageError("PNG header is truncated")
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    if chunk_type != b"IHDR" or length != 13:
        raise CorruptImageError("PNG does not start with an IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    if b"IEND" not in data[-64:]:
        raise CorruptImageError("PNG is truncated (no IEND chunk)")
    return ImageHeader("png", width, height)


def _jpeg_header(data: bytes) -> ImageHeader:
    position = 2
    size = len(data)
    while position < size:
        if data[position] != 0xFF:
            raise CorruptImageError("JPEG marker stream is malformed")
        # Any number of 0xFF fill bytes may precede a marker code.
        while position < size and data[position] == 0xFF:
            position += 1
        if position >= size:
            break
        marker = data[position]
        position += 1
        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):
            # EOI or start of scan before any frame header.
            raise CorruptImageError("JPEG has no frame header before its image data")
        if position + 2 > size:
            break
        (segment_length,) = struct.unpack(">H", data[position : position + 2])
        if segment_length < 2:
            raise CorruptImageError("JPEG segment length is invalid")
        if marker in _JPEG_SOF_MARKERS:
            if position + 7 > size:
                break
            height, width = struct.unpack(">HH", data[position + 3 : position + 7])
            # A truncated upload loses its tail; libjpeg would silently pad it grey.
            if b"\xff\xd9" not in data[position:]:
                raise CorruptImageError("JPEG is truncated (no end-of-image marker)")
            return ImageHeader("jpeg", width, height)
        position += segment_length
    raise CorruptImageError("JPEG header is truncated")


def _bmp_header(data: bytes) -> ImageHeader:
    if len(data) < 26:
        raise CorruptImageError("BMP header is truncated")
    (declared_size,) = struct.unpack("<I", data[2:6])
    width, height = struct.unpack("<ii", data[18:26])
    if declared_size > len(data):
        raise CorruptImageError("BMP is truncated")
    # Negative height means a top-down bitmap; the size is its magnitude.
    return ImageHeader("bmp", abs(width), abs(height))


def read_image_header(data: bytes) -> ImageHeader:
    """Identify the format and declared dimensions without decoding pixels."""
    if not data:
        raise EmptyImageError("image is empty")
    if data.startswith(_PNG_SIGNATURE):
        header = _png_header(data)
    elif data.startswith(_JPEG_SOI):
        header = _jpeg_header(data)
    elif data.startswith(b"BM"):
        header = _bmp_header(data)
    else:
        raise NotAnImageError("only JPEG, PNG and BMP images are accepted")
    if header.width == 0 or header.height == 0:
        raise CorruptImageError("image declares zero width or height")
    return header


def check_image_bytes(
    data: bytes,
    *,
    max_pixels: int = 24_000_000,
    max_bytes: int = 8 * 1024 * 1024,
) -> ImageHeader:
    """Every check :func:`decode_image` makes before decoding (type, size, header, truncation).

    Cheap enough for the event loop: an upload is refused before anything is
    spent on it, and the pixels are decoded once, where they are analysed.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise NotAnImageError("image must be bytes")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image exceeds {max_bytes} bytes")
    header = read_image_header(bytes(data))
    if header.width * header.height > max_pixels:
        raise ImageTooLargeError(
            f"image is {header.width}x{header.height}, above the limit of {max_pixels} pixels"
        )
    return header


def decode_image(
    data: bytes,
    *,
    max_pixels: int = 24_000_000,
    max_bytes: int = 8 * 1024 * 1024,
) -> np.ndarray:
    """Decode untrusted JPEG/PNG/BMP bytes to a BGR uint8 array.

    Raises a subclass of :class:`face.errors.ImageError` whose ``code`` is one of
    ``empty_image``, ``not_an_image``, ``image_too_large``, ``corrupt_image``.
    """
    data = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
    header = check_image_bytes(data, max_pixels=max_pixels, max_bytes=max_bytes)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.size == 0:
        raise CorruptImageError("image data could not be decoded")
    # EXIF orientation may legitimately swap the axes.
    if sorted(image.shape[:2]) != sorted((header.height, header.width)):
        raise CorruptImageError("decoded size does not match the header")
    return image


def encode_jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    """Encode BGR pixels as JPEG (used by the CLI, calibration and tests)."""
    ok, buffer = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()
