from __future__ import annotations

import cv2
import numpy as np
import pytest

from face import FaceConfig, FaceEngine
from face.decode import encode_jpeg
from face.samples import id_card_photo, load_sample


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    # Synthetic renderings (actions painted onto photos) are fakes to the passive model;
    # tests/face/test_minifasnet.py runs it on real recordings.
    engine = FaceEngine(FaceConfig(passive_model="none"))
    engine.load()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def subject(engine: FaceEngine) -> dict[str, object]:
    """Yao Ming photo upscaled to phone-frame size, its landmarks and an imitation ID photo."""
    image = load_sample("yaoming.jpg")
    frame = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    analysis = engine.analyzer.analyze_frame(frame)
    assert analysis.usable and analysis.face is not None
    bbox = engine.analyzer.detector.predict(image)[0].bbox
    return {"frame": frame, "points": analysis.face.landmarks, "id_photo": encode_jpeg(id_card_photo(image, bbox), 30)}


@pytest.fixture(scope="session")
def other_person_frame(engine: FaceEngine) -> np.ndarray:
    image = load_sample("gdp.jpg")
    faces = sorted(engine.analyzer.detector.predict(image), key=lambda f: -f.width)
    x1, y1, x2, y2 = faces[0].bbox
    w, h = x2 - x1, y2 - y1
    crop = image[int(max(0, y1 - 0.5 * h)) : int(y2 + 0.4 * h), int(max(0, x1 - 0.4 * w)) : int(x2 + 0.4 * w)]
    return cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
