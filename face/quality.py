"""Image-quality measures of the aligned face crop."""

from __future__ import annotations

import cv2
import numpy as np


def sharpness(aligned_crop: np.ndarray) -> float:
    """Variance of the Laplacian: low for motion blur or missed focus.

    Measured on the aligned crop so the value does not depend on how large the
    face is in the frame or on the background.
    """
    gray = cv2.cvtColor(aligned_crop, cv2.COLOR_BGR2GRAY)
    # Only the inner face: the template leaves black borders after warping.
    inner = gray[16:104, 16:96]
    return float(cv2.Laplacian(inner, cv2.CV_64F).var())


def brightness(aligned_crop: np.ndarray) -> float:
    gray = cv2.cvtColor(aligned_crop, cv2.COLOR_BGR2GRAY)
    return float(gray[16:104, 16:96].mean())
