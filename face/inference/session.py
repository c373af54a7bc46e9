"""The single place where onnxruntime sessions are created.

Every model goes through here so thread limits and spinning are set once:
on a 2-core box, ORT's default busy-wait spinning of idle intra-op threads
steals the CPU from the other executor worker and doubled end-to-end latency
in measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort


@dataclass(frozen=True)
class SessionSettings:
    intra_op_threads: int = 1
    # Inter-op parallelism only matters for graphs with parallel branches,
    # which these CNNs do not have; one thread avoids a second idle pool.
    inter_op_threads: int = 1
    providers: tuple[str, ...] = ("CPUExecutionProvider",)


def build_session_options(settings: SessionSettings) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = settings.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxSession:
    """Thin wrapper so model classes never touch onnxruntime directly."""

    def __init__(self, model_path: Path, settings: SessionSettings) -> None:
        self.model_path = Path(model_path)
        self.settings = settings
        self._session = ort.InferenceSession(
            str(self.model_path),
            sess_options=build_session_options(settings),
            providers=list(settings.providers),
        )
        self.input_names = [value.name for value in self._session.get_inputs()]
        self.input_shapes = [list(value.shape) for value in self._session.get_inputs()]
        self.input_types = [value.type for value in self._session.get_inputs()]
        self.output_names = [value.name for value in self._session.get_outputs()]
        self.output_shapes = [list(value.shape) for value in self._session.get_outputs()]
        self.output_types = [value.type for value in self._session.get_outputs()]

    def run(self, inputs: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        results: list[np.ndarray] = self._session.run(list(outputs) if outputs else self.output_names, inputs)
        return results
