from __future__ import annotations

import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from face import FaceConfig, FaceEngine, PackError, PackIntegrityError, decode_image, load_pack, write_manifest
from face.decode import encode_jpeg, encode_png
from face.packs import default_pack_directory


def test_default_pack_verifies() -> None:
    pack = load_pack()
    assert {e.role for e in pack.entries} == {"detection", "landmarks", "recognition"}
    assert all(e.path_in(pack.directory).is_file() for e in pack.entries)


def _copy_pack(tmp_path: Path) -> Path:
    source = default_pack_directory()
    target = tmp_path / "pack"
    target.mkdir()
    for name in ("scrfd_500m_bnkps.onnx", "2d106det.onnx", "w600k_mbf.onnx"):
        shutil.copy(source / name, target / name)
    write_manifest(
        target,
        {"scrfd_500m_bnkps.onnx": "detection", "2d106det.onnx": "landmarks", "w600k_mbf.onnx": "recognition"},
        name="copy",
        licence="test",
        source="test copy",
    )
    return target


def test_custom_pack_and_tampered_file(tmp_path: Path) -> None:
    pack_dir = _copy_pack(tmp_path)
    assert load_pack(pack_dir).name == "copy"
    with open(pack_dir / "2d106det.onnx", "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(PackIntegrityError) as error:
        load_pack(pack_dir)
    assert error.value.code == "pack_hash_mismatch"
    with pytest.raises(PackIntegrityError):
        FaceEngine(FaceConfig(pack_dir=pack_dir)).load()


def test_pack_without_manifest_refused(tmp_path: Path) -> None:
    with pytest.raises(PackError):
        load_pack(tmp_path)


def _image() -> np.ndarray:
    return np.full((40, 30, 3), 128, dtype=np.uint8)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_image"),
        (b"hello, this is not an image at all", "not_an_image"),
        (b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", 100000, 100000) + b"\x08\x02\x00\x00\x00" + b"\x00" * 20 + b"IEND", "image_too_large"),
    ],
)
def test_bad_images_refused(data: bytes, code: str) -> None:
    with pytest.raises(Exception) as error:
        decode_image(data)
    assert getattr(error.value, "code", None) == code


def test_truncated_and_huge_jpeg() -> None:
    jpeg = encode_jpeg(_image())
    with pytest.raises(Exception) as error:
        decode_image(jpeg[: len(jpeg) // 2])
    assert error.value.code == "corrupt_image"  # type: ignore[attr-defined]
    big = encode_jpeg(np.zeros((600, 800, 3), dtype=np.uint8))
    with pytest.raises(Exception) as error:
        decode_image(big, max_pixels=100_000)
    assert error.value.code == "image_too_large"  # type: ignore[attr-defined]
    png = encode_png(_image())
    with pytest.raises(Exception) as error:
        decode_image(png[:40])
    assert error.value.code == "corrupt_image"  # type: ignore[attr-defined]
    assert decode_image(png).shape == (40, 30, 3)
    ok, bmp = cv2.imencode(".bmp", _image())
    assert decode_image(bmp.tobytes()).shape == (40, 30, 3)
