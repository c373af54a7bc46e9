"""Convert the Silent-Face MiniFASNet passive anti-spoofing weights (PyTorch state dicts) to ONNX
without torch, and measure them.

The .pth files in ../shared/testdata/faces/silent-face/anti_spoof_models/ (Apache-2.0, licence beside
them) use PyTorch's legacy (non-zip) serialisation: a few pickles, then the raw storages. They are read
with a restricted unpickler that maps tensors to numpy; the graph is rebuilt with onnx.helper from the
state dict's layer names (MiniFASNetV2 / MiniFASNetV1SE: conv-bn-prelu blocks, depthwise bottlenecks,
residual stages, optional squeeze-excitation), batch norms folded into the convolutions.

Model input: float32 [N, 3, 80, 80], BGR 0-255 (no scaling), a crop of the detected face box enlarged by
the factor in the file name (2.7 or 4.0, clamped to the image); output: softmax over 3 classes, class 1 =
live. Silent-Face averages the two models.

Usage:
    python scripts/minifasnet_to_onnx.py SRC_DIR OUT_DIR          # convert both models
    python scripts/minifasnet_to_onnx.py SRC_DIR OUT_DIR --measure IMAGE...   # and print live probabilities

Measured (docs/face.md): the shipped real face image_T1 1.000 live, the printed photo image_F1 0.071,
the phone-screen photo image_F2 0.002; 61 real frames of three people (wolf/carphone bursts,
single_face.mp4) all >= 0.89 live. The converted files ship in face/packs/minifasnet/ (face.inference.minifasnet).
"""

from __future__ import annotations

import argparse
import collections
import pickle
import struct
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The preprocessing is the server's own, so what --measure prints is what production computes.
from face.inference.minifasnet import live_score, model_input  # noqa: E402

EPS = 1e-5
_STORAGE_TYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32, "HalfStorage": np.float16, "DoubleStorage": np.float64}
# Crop scale around the face box, from Silent-Face's file naming.
MODELS = {"2.7_80x80_MiniFASNetV2.pth": 2.7, "4_0_0_80x80_MiniFASNetV1SE.pth": 4.0}


class _Storage:
    def __init__(self, dtype: Any, numel: int) -> None:
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None


def load_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """PyTorch legacy serialisation -> {name: numpy array}; only tensors and OrderedDict are allowed."""
    storages: dict[str, _Storage] = {}

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module == "torch" and name in _STORAGE_TYPES:
                return name
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return lambda storage, offset, size, stride, *rest: ("tensor", storage, offset, tuple(size), tuple(stride))
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"refusing {module}.{name}")

        def persistent_load(self, pid: Any) -> _Storage:
            _, storage_type, key, _location, numel = pid[:5]
            if key not in storages:
                storages[key] = _Storage(_STORAGE_TYPES[storage_type], numel)
            return storages[key]

    with open(path, "rb") as handle:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(handle)  # noqa: S301 - plain ints/dicts of a trusted local file
        state = Restricted(handle).load()
        keys = pickle.load(handle)  # noqa: S301
        for key in keys:
            storage = storages[key]
            (count,) = struct.unpack("<q", handle.read(8))
            storage.data = np.frombuffer(handle.read(count * np.dtype(storage.dtype).itemsize), dtype=storage.dtype)
    out: dict[str, np.ndarray] = {}
    for name, value in state.items():
        if isinstance(value, tuple) and value and value[0] == "tensor":
            _, storage, offset, size, stride = value
            item = np.dtype(storage.dtype).itemsize
            out[name.removeprefix("module.")] = np.lib.stride_tricks.as_strided(storage.data[offset:], shape=size, strides=[s * item for s in stride]).copy()
    return out


def build_onnx(state: dict[str, np.ndarray]) -> onnx.ModelProto:
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    counter = [0]

    def fresh(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(array: np.ndarray, prefix: str) -> str:
        name = fresh(prefix)
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array.astype(np.float32)), name))
        return name

    def folded(conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        weight = state[conv + ".weight"]
        scale = state[bn + ".weight"] / np.sqrt(state[bn + ".running_var"] + EPS)
        return weight * scale.reshape(-1, *([1] * (weight.ndim - 1))), state[bn + ".bias"] - state[bn + ".running_mean"] * scale

    def conv_block(x: str, prefix: str, stride: int, pad: int, activation: bool) -> str:
        weight, bias = folded(prefix + ".conv", prefix + ".bn")
        groups = weight.shape[0] if weight.shape[1] == 1 and weight.shape[0] > 1 else 1
        kernel = weight.shape[2]
        y = fresh("conv")
        nodes.append(helper.make_node("Conv", [x, const(weight, "w"), const(bias, "b")], [y], kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4, group=groups))
        if not activation:
            return y
        z = fresh("prelu")
        nodes.append(helper.make_node("PRelu", [y, const(state[prefix + ".prelu.weight"].reshape(-1, 1, 1), "slope")], [z]))
        return z

    def bottleneck(x: str, prefix: str, stride: int, residual: bool) -> str:
        y = conv_block(x, prefix + ".conv", 1, 0, True)
        y = conv_block(y, prefix + ".conv_dw", stride, 1, True)
        y = conv_block(y, prefix + ".project", 1, 0, False)
        se = prefix + ".se_module"
        if se + ".fc1.weight" in state:
            pooled, squeezed, relu, excited, gate, scaled = (fresh(p) for p in ("gap", "se1", "relu", "se2", "sigmoid", "mul"))
            w1, b1 = folded(se + ".fc1", se + ".bn1")
            w2, b2 = folded(se + ".fc2", se + ".bn2")
            nodes.extend(
                [
                helper.make_node("GlobalAveragePool", [y], [pooled]),
                helper.make_node("Conv", [pooled, const(w1, "w"), const(b1, "b")], [squeezed], kernel_shape=[1, 1]),
                helper.make_node("Relu", [squeezed], [relu]),
                helper.make_node("Conv", [relu, const(w2, "w"), const(b2, "b")], [excited], kernel_shape=[1, 1]),
                helper.make_node("Sigmoid", [excited], [gate]),
                helper.make_node("Mul", [y, gate], [scaled]),
                ]
            )
            y = scaled
        if not residual:
            return y
        z = fresh("add")
        nodes.append(helper.make_node("Add", [x, y], [z]))
        return z

    def stage(x: str, prefix: str) -> str:
        index = 0
        while f"{prefix}.model.{index}.conv.conv.weight" in state:
            x = bottleneck(x, f"{prefix}.model.{index}", 1, True)
            index += 1
        return x

    x = conv_block("input", "conv1", 2, 1, True)
    x = conv_block(x, "conv2_dw", 1, 1, True)
    for transition, residual in (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5")):
        x = stage(bottleneck(x, transition, 2, False), residual)
    x = conv_block(x, "conv_6_sep", 1, 0, True)
    x = conv_block(x, "conv_6_dw", 1, 0, False)
    flat, linear, logits = fresh("flatten"), fresh("linear"), fresh("logits")
    scale = state["bn.weight"] / np.sqrt(state["bn.running_var"] + EPS)
    nodes += [
        helper.make_node("Flatten", [x], [flat]),
        helper.make_node("Gemm", [flat, const((state["linear.weight"] * scale[:, None]).T, "linear_w"), const(state["bn.bias"] - state["bn.running_mean"] * scale, "linear_b")], [linear]),
        helper.make_node("MatMul", [linear, const(state["prob.weight"].T, "prob_w")], [logits]),
        helper.make_node("Softmax", [logits], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "minifasnet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 80, 80])], [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])], initializers
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="vets-face minifasnet converter")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def live_probability(sessions: list[tuple[Any, float]], image: np.ndarray, bbox: np.ndarray) -> float:
    """The pair's averaged live probability, with the crop and input the server uses (face/inference/minifasnet.py)."""
    total = 0.0
    for session, scale in sessions:
        total += live_score(session.run(None, {session.get_inputs()[0].name: model_input(image, bbox, scale)})[0])
    return total / len(sessions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--measure", nargs="*", type=Path, default=[])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    converted = []
    for file_name, scale in MODELS.items():
        target = args.out / file_name.replace(".pth", ".onnx")
        onnx.save(build_onnx(load_legacy_state_dict(args.source / file_name)), target)
        converted.append((target, scale))
        print(f"{target}: {target.stat().st_size} bytes")
    if args.measure:
        import onnxruntime as ort

        from face import FaceConfig, FaceEngine

        engine = FaceEngine(FaceConfig())
        engine.load()
        sessions = [(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), scale) for path, scale in converted]
        for path in args.measure:
            image = cv2.imread(str(path))
            faces = engine.analyzer.detector.predict(image) if image is not None else []
            if not faces:
                print(f"{path}: no face")
                continue
            bbox = max(faces, key=lambda f: f.width).bbox
            print(f"{path}: live probability {live_probability(sessions, image, bbox):.3f}")
        engine.close()


if __name__ == "__main__":
    main()
