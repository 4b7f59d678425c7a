"""Which models the compiled path tries, and converting them to ONNX with skl2onnx.

Numbers enter the ONNX graph as float32: scikit-learn's trees cast their input to float32,
and skl2onnx rounds each threshold down to the float32 below it, so the two compare alike.
Histogram gradient boosting compares the input in double: for it numbers enter as double,
against double thresholds, and only the tree ensemble's sum comes out in float32 (ONNX
Runtime's tree operators give float32; a Cast takes it back to double for what follows).
Whatever float32 still changes (sums of leaves, a scaler's arithmetic) is for `verify` to
find. Strings enter as strings, for the encoders.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from serving.codecs.schema import STRING, Schema

FINAL = {
    "RandomForestRegressor",
    "RandomForestClassifier",
    "ExtraTreesRegressor",
    "ExtraTreesClassifier",
    "GradientBoostingRegressor",
    "GradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "DecisionTreeRegressor",
    "DecisionTreeClassifier",
    "LinearRegression",
    "Ridge",
    "Lasso",
    "ElasticNet",
    "LogisticRegression",
}
STEPS = {
    "Pipeline",
    "ColumnTransformer",
    "OneHotEncoder",
    "OrdinalEncoder",
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "SimpleImputer",
}
ENCODERS = {"OneHotEncoder", "OrdinalEncoder"}
# The versions of the ONNX operator sets the graph is written for: the newest ONNX Runtime's
# tree ensembles and encoders all implement.
OPSETS = {"": 17, "ai.onnx.ml": 3}


def parts(model: Any) -> Iterator[Any]:
    """`model` and every fitted estimator inside it."""
    yield model
    for _, step in getattr(model, "steps", []):
        if not isinstance(step, str):
            yield from parts(step)
    for _, transformer, _ in getattr(model, "transformers_", []):
        if not isinstance(transformer, str):
            yield from parts(transformer)


def final_estimator(model: Any) -> Any:
    while hasattr(model, "steps"):
        model = model.steps[-1][1]
    return model


def _identity(part: Any) -> bool:
    # What a ColumnTransformer's remainder="passthrough" becomes once fitted.
    return type(part).__name__ == "FunctionTransformer" and part.func is None and part.inverse_func is None


def unsupported(model: Any, schema: Schema | None) -> str | None:
    """Why the compiled path does not try `model`, or None when it does."""
    if schema is not None and schema.text:
        return "a model that takes text is not compiled"
    if getattr(model, "n_outputs_", 1) != 1:
        return "a model with several outputs is not compiled"
    final = final_estimator(model)
    if type(final).__name__ not in FINAL:
        return f"{type(final).__name__} is not among the models compiled"
    for part in parts(model):
        name = type(part).__name__
        if part is final or name in STEPS or _identity(part):
            continue
        return f"the step {name} is not among the steps compiled"
    if schema is None and not isinstance(getattr(model, "n_features_in_", None), int):
        return "the model does not record how many features it takes"
    return None


def compares_in_double(model: Any) -> bool:
    return type(final_estimator(model)).__name__.startswith("HistGradientBoosting")


def input_types(model: Any, schema: Schema | None, double: bool) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    numbers = DoubleTensorType if double else FloatTensorType
    if schema is None:
        return [("X", numbers([None, model.n_features_in_]))]
    return [
        (name, StringTensorType([None, 1]) if kind == STRING else numbers([None, 1]))
        for name, kind in zip(schema.names, schema.kinds, strict=True)
    ]


# Which output of ONNX's tree operators holds the float32 scores.
TREE_SCORES = {"TreeEnsembleRegressor": 0, "TreeEnsembleClassifier": 1}


def _in_double(graph: Any, model: Any) -> None:
    """Histogram gradient boosting's thresholds in double, as it compares, and a Cast to
    double after each tree ensemble's float32 scores, under the scores' own name.

    skl2onnx writes the thresholds rounded to float32 (`nodes_values`); each is put back
    from the model's own trees, found by tree and node id, after checking it is the one
    that was rounded.
    """
    from onnx import TensorProto, helper, numpy_helper

    trees = [tree for iteration in final_estimator(model)._predictors for tree in iteration]
    nodes = []
    for node in graph.graph.node:
        nodes.append(node)
        if node.domain != "ai.onnx.ml" or node.op_type not in TREE_SCORES:
            continue
        attributes = {attribute.name: attribute for attribute in node.attribute}
        rounded = np.array(attributes["nodes_values"].floats, dtype=np.float32)
        exact = np.array(
            [
                trees[tree].nodes["num_threshold"][index]
                for tree, index in zip(
                    attributes["nodes_treeids"].ints, attributes["nodes_nodeids"].ints, strict=True
                )
            ],
            dtype=np.float64,
        )
        if not np.array_equal(exact.astype(np.float32), rounded):
            raise ValueError("the converted trees' thresholds do not match the model's")
        node.attribute.remove(attributes["nodes_values"])
        node.attribute.append(helper.make_attribute("nodes_values_as_tensor", numpy_helper.from_array(exact)))
        scores = TREE_SCORES[node.op_type]
        name = node.output[scores]
        node.output[scores] = f"{name}_float32"
        nodes.append(helper.make_node("Cast", [f"{name}_float32"], [name], to=TensorProto.DOUBLE))
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    for opset in graph.opset_import:
        if opset.domain == "ai.onnx.ml":
            # Thresholds as a tensor came with version 3 of the operators.
            opset.version = max(opset.version, OPSETS["ai.onnx.ml"])


def _options(model: Any) -> dict[int, dict[str, Any]]:
    options: dict[int, dict[str, Any]] = {}
    for part in parts(model):
        name = type(part).__name__
        if hasattr(part, "predict_proba") and hasattr(part, "classes_"):
            # Probabilities as one tensor, not a list of dicts per row.
            options[id(part)] = {"zipmap": False}
        elif name == "StandardScaler":
            # Subtract and divide in double, as scikit-learn does, instead of multiplying by
            # a float32 reciprocal.
            options[id(part)] = {"div": "div_cast"}
    return options


class ConversionError(Exception):
    pass


class Converter:
    """`to_onnx` in a child process, at a lower priority: skl2onnx is pure Python and holds
    the GIL for seconds on a large forest, which would hold this process's requests too.

    One child per process, started on first use and kept while it is used: starting one
    imports scikit-learn and skl2onnx, about as long as converting a forest. It leaves by
    itself after `IDLE_S` without work, giving back its memory.
    """

    IDLE_S = 60.0

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._pid = -1
        self._lock = threading.Lock()
        # The child and the lock stay with the parent when a worker forks; the lock may be
        # held at that moment by a thread the new process does not have.
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._child, self._pid, self._lock = None, -1, threading.Lock()

    def running(self) -> bool:
        child = self._child
        return child is not None and child.poll() is None and self._pid == os.getpid()

    def _started(self) -> subprocess.Popen[bytes]:
        child = self._child
        if child is None or child.poll() is not None or self._pid != os.getpid():
            child = subprocess.Popen(
                [sys.executable, "-m", "serving.compiled.convert", str(self.IDLE_S)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._child, self._pid = child, os.getpid()
        return child

    def convert(self, model: Any, schema: Schema | None, double: bool, timeout: float) -> bytes:
        payload = pickle.dumps((model, schema, double), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            for attempt in (1, 2):
                child = self._started()
                try:
                    return self._exchange(child, payload, timeout)
                except (BrokenPipeError, EOFError):
                    # It had just left for being idle: once more with a new one.
                    child.kill()
                    if attempt == 2:
                        raise ConversionError("the conversion process exited") from None
                except TimeoutError:
                    child.kill()
                    raise ConversionError(f"the conversion took more than {timeout:g} s") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _exchange(child: subprocess.Popen[bytes], payload: bytes, timeout: float) -> bytes:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(struct.pack("!Q", len(payload)) + payload)
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        ok, body = _read_message(child.stdout)
        if not ok:
            raise ConversionError(body.decode(errors="replace"))
        return body


def _read_message(stream: Any) -> tuple[bool, bytes]:
    head = stream.read(9)
    if len(head) < 9:
        raise EOFError
    ok, size = struct.unpack("!?Q", head)
    return ok, stream.read(size)


_converter = Converter()


def converter_running() -> bool:
    return _converter.running()


def in_child(model: Any, schema: Schema | None, double: bool, timeout: float) -> bytes:
    """`to_onnx`, done in this process's converter child; raises ConversionError."""
    return _converter.convert(model, schema, double, timeout)


def to_onnx(model: Any, schema: Schema | None, double: bool) -> bytes:
    """The model as a serialized ONNX graph, its numbers in double or float32; raises
    whatever skl2onnx raises."""
    from skl2onnx import convert_sklearn

    graph = convert_sklearn(
        model,
        initial_types=input_types(model, schema, double),
        options=_options(model),
        target_opset=OPSETS,
    )
    if double:
        _in_double(graph, model)
    return graph.SerializeToString()


def main() -> None:
    """The converter child: pickled (model, schema, double) in, ONNX bytes or an error out,
    until its parent closes the pipe or `argv[1]` seconds pass without work."""
    os.nice(10)
    idle = float(sys.argv[1]) if len(sys.argv) > 1 else Converter.IDLE_S
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while select.select([source], [], [], idle)[0]:
        head = source.read(8)
        if len(head) < 8:
            return
        model, schema, double = pickle.loads(source.read(struct.unpack("!Q", head)[0]))
        try:
            ok, body = True, to_onnx(model, schema, double)
        except Exception as exc:  # the parent reports it as the reason
            ok, body = False, f"{type(exc).__name__}: {str(exc)[:300]}".encode()
        sink.write(struct.pack("!?Q", ok, len(body)) + body)
        sink.flush()


if __name__ == "__main__":
    main()
