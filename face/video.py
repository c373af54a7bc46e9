"""Short phone videos (``CameraContext.startRecord``, MP4/MOV) turned into a burst of frames.

The video is untrusted: its size is checked before anything runs, only an ISO
base-media file (an ``ftyp`` box first) is handed to the decoder, and decoding
stops as soon as the clip proves longer than allowed, holds too many frames or
too large a picture - so a small file that declares hours of video or a huge
canvas costs no more than the limits allow. The frames kept are spread evenly
at about ``target_fps`` (at most ``max_frames``) and re-encoded as JPEG, so the
rest of the check treats them exactly like a burst sent frame by frame.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import cv2
import numpy as np

from .decode import encode_jpeg
from .errors import CorruptImageError, ImageTooLargeError, NotAnImageError


class VideoTooLongError(ImageTooLargeError):
    """The clip runs longer, or holds more frames, than allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="video_too_long")


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = 8 * 1024 * 1024
    max_seconds: float = 6.0
    # Decoded frames at most (6 s at 60 fps); a clip claiming a higher rate is refused.
    max_decoded_frames: int = 360
    max_pixels: int = 1920 * 1080
    # Frames handed to the check: spread evenly at about target_fps, at most max_frames.
    target_fps: float = 10.0
    max_frames: int = 30
    min_frames: int = 3
    jpeg_quality: int = 90


def is_iso_media(data: bytes) -> bool:
    """MP4 / MOV / 3GP: the first box is ``ftyp`` (what startRecord writes)."""
    return len(data) >= 12 and data[4:8] == b"ftyp"


@dataclass(frozen=True)
class DecodedVideo:
    frames: list[bytes]
    # Position in the clip (seconds) of each kept frame.
    times: list[float]
    duration: float
    decoded_frames: int


def _pick(count: int, times: list[float], limits: VideoLimits) -> list[int]:
    """Indexes of the frames to keep: about target_fps, evenly spread, at most max_frames."""
    if count == 0:
        return []
    duration = max(times[-1] - times[0], 1e-6)
    wanted = min(limits.max_frames, max(limits.min_frames, int(round(duration * limits.target_fps)) + 1), count)
    positions = np.linspace(0, count - 1, wanted)
    return sorted({int(round(p)) for p in positions})


def decode_video(data: bytes, limits: VideoLimits | None = None) -> DecodedVideo:
    """Decode an uploaded clip into JPEG frames in capture order.

    Raises ``ImageError`` subclasses: ``empty_image`` never (an empty body is
    ``not_an_image``), ``not_an_image`` (not MP4/MOV), ``image_too_large`` (bytes
    or picture size), ``video_too_long`` (duration or frame count) and
    ``corrupt_image`` (nothing decodable, or fewer than ``min_frames`` frames).
    """
    limits = limits or VideoLimits()
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(f"video exceeds {limits.max_bytes} bytes")
    if not is_iso_media(data):
        raise NotAnImageError("only MP4/MOV videos are accepted")
    # OpenCV's FFmpeg backend reads from a path; the file lives only while decoding.
    handle, path = tempfile.mkstemp(suffix=".mp4", prefix="face-video-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        try:
            if not capture.isOpened():
                raise CorruptImageError("video could not be opened")
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            declared = float(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
            if fps > 0 and declared / fps > limits.max_seconds + 0.5:
                raise VideoTooLongError(f"video is {declared / fps:.1f} s, above {limits.max_seconds} s")
            images: list[np.ndarray] = []
            times: list[float] = []
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                if len(images) >= limits.max_decoded_frames:
                    raise VideoTooLongError(f"video holds more than {limits.max_decoded_frames} frames")
                if image is None or image.ndim != 3 or image.shape[0] * image.shape[1] > limits.max_pixels:
                    raise ImageTooLargeError(f"video frames are larger than {limits.max_pixels} pixels")
                position = float(capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
                if position <= 0.0 and fps > 0:
                    position = len(images) / fps
                # The container's claim is not trusted: the frames' own times are.
                if position > limits.max_seconds + 0.25:
                    raise VideoTooLongError(f"video runs past {limits.max_seconds} s")
                images.append(image)
                times.append(position)
        finally:
            capture.release()
    finally:
        os.unlink(path)
    if len(images) < limits.min_frames:
        raise CorruptImageError(f"video has {len(images)} decodable frames, at least {limits.min_frames} are needed")
    keep = _pick(len(images), times, limits)
    return DecodedVideo(
        frames=[encode_jpeg(images[i], limits.jpeg_quality) for i in keep],
        times=[round(times[i], 3) for i in keep],
        duration=round(times[-1] - times[0], 3),
        decoded_frames=len(images),
    )


__all__ = ["DecodedVideo", "VideoLimits", "VideoTooLongError", "decode_video", "is_iso_media"]
