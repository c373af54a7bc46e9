"""Base class for every network: lazy load, then predict."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import onnx

from .session import OnnxSession, SessionSettings


class InferenceModel(ABC):
    role: ClassVar[str]

    def __init__(self, model_path: Path, settings: SessionSettings) -> None:
        self.model_path = Path(model_path)
        self.settings = settings
        self._session: OnnxSession | None = None
        # Two executor workers may hit a cold model at once; build one session.
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> OnnxSession:
        if self._session is None:
            self.load()
        assert self._session is not None
        return self._session

    def load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            session = OnnxSession(self.model_path, self.settings)
            self._configure(session)
            self._session = session

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        # ORT sessions are safe to call from several threads concurrently.
        return self._predict(self.session, *args, **kwargs)

    @abstractmethod
    def _configure(self, session: OnnxSession) -> None:
        """Validate the graph signature and read input sizes."""

    @abstractmethod
    def _predict(self, session: OnnxSession, *args: Any, **kwargs: Any) -> Any: ...


def graph_normalises_input(model_path: Path) -> bool:
    """True when the graph itself subtracts a mean and scales (MXNet exports).

    Same rule insightface uses to decide whether to feed raw 0..255 pixels.
    """
    graph = onnx.load(str(model_path), load_external_data=False).graph
    has_sub = has_mul = False
    for index, node in enumerate(graph.node[:8]):
        if node.name.startswith(("Sub", "_minus")):
            has_sub = True
        if node.name.startswith(("Mul", "_mul")):
            has_mul = True
        if index < 3 and node.name == "bn_data":
            has_sub = has_mul = True
    return has_sub and has_mul
