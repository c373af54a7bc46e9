"""Face verification for annual "proof of life" confirmations.

A standalone library (it never imports the server). Public API:

* :class:`FaceConfig` - every threshold and limit (pydantic, immutable).
* :class:`FaceEngine` - loads a verified model pack, owns the single inference
  executor. ``await engine.start()`` at start-up, then

  - ``await engine.verify_challenge(frames, challenge, references, earlier_fingerprints=())``
    -> :class:`VerificationResult` (``.decision``, ``.reasons``, ``.to_dict()``)
  - ``await engine.embed_reference(image_bytes)`` -> :class:`ReferenceEmbedding` or None
  - ``await engine.check_image(image_bytes)`` -> dict (detection + quality)
  - ``await engine.match(reference_bytes, probe_bytes)`` -> :class:`MatchResult`
  - ``engine.close()`` at shutdown.
* :class:`Challenge`, :class:`Action`, :func:`new_challenge` - random action sequences.
* :class:`Decision`, :class:`ReasonCode` - string enums used in results.
* :class:`FrameFingerprint` - store ``result.fingerprints`` and pass them back
  as ``earlier_fingerprints`` to catch replays across attempts.
* Errors: :class:`FaceError` (``.code``), image errors (``empty_image``,
  ``not_an_image``, ``image_too_large``, ``corrupt_image``), pack errors
  (``pack_invalid``, ``pack_hash_mismatch``), ``invalid_request``.
* :func:`decode_image` - safe decoding of untrusted uploads.

See docs/face.md for the integration guide and calibration figures.
"""

from .challenge import Action, Challenge, new_challenge
from .config import FaceConfig
from .decode import decode_image
from .engine import FaceEngine, FrameImageError, InvalidRequestError
from .errors import (
    CorruptImageError,
    EmptyImageError,
    EngineClosedError,
    FaceError,
    ImageError,
    ImageTooLargeError,
    NotAnImageError,
    PackError,
    PackIntegrityError,
)
from .fingerprint import FrameFingerprint
from .packs import ModelPack, load_pack, write_manifest
from .result import Decision, MatchResult, ReasonCode, ReferenceEmbedding, Scores, VerificationResult

__all__ = [
    "Action",
    "Challenge",
    "CorruptImageError",
    "Decision",
    "EmptyImageError",
    "EngineClosedError",
    "FaceConfig",
    "FaceEngine",
    "FaceError",
    "FrameFingerprint",
    "FrameImageError",
    "ImageError",
    "ImageTooLargeError",
    "InvalidRequestError",
    "MatchResult",
    "ModelPack",
    "NotAnImageError",
    "PackError",
    "PackIntegrityError",
    "ReasonCode",
    "ReferenceEmbedding",
    "Scores",
    "VerificationResult",
    "decode_image",
    "load_pack",
    "new_challenge",
    "write_manifest",
]
