"""Face alignment and landmark geometry (pure numpy/OpenCV, no models)."""

from __future__ import annotations

import cv2
import numpy as np

# Canonical 5-point positions for ArcFace's 112x112 input (insightface).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama 1991) mapping source points onto target; 2x3."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    count = source.shape[0]
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centered = source - source_mean
    target_centered = target - target_mean
    covariance = target_centered.T @ source_centered / count
    u, singular, vt = np.linalg.svd(covariance)
    # Reflection guard: keep a proper rotation.
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rotation = u @ np.diag(sign) @ vt
    variance = (source_centered**2).sum() / count
    scale = float((singular * sign).sum() / variance) if variance > 0 else 1.0
    translation = target_mean - scale * rotation @ source_mean
    matrix = np.zeros((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = translation
    return matrix


def align_face(image: np.ndarray, keypoints: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp the face so its 5 keypoints land on the ArcFace template."""
    matrix = similarity_transform(keypoints, ARCFACE_TEMPLATE * (size / 112.0))
    return cv2.warpAffine(image, matrix, (size, size), borderValue=0.0)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    homogeneous = np.hstack([points, np.ones((points.shape[0], 1), dtype=points.dtype)])
    result: np.ndarray = homogeneous @ np.asarray(matrix).T
    return result


def box_size(bbox: np.ndarray) -> float:
    return float(min(bbox[2] - bbox[0], bbox[3] - bbox[1]))
