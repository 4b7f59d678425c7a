"""Which models the compiled path tries, and converting them to ONNX with skl2onnx.

Numbers enter the ONNX graph as float32: ONNX Runtime's tree ensembles compare in
float32, and scikit-learn's trees cast their input to float32 too; skl2onnx rounds each
threshold down to the float32 below it, so the two compare alike. Whatever else float32
changes (sums of leaves, a scaler's arithmetic, models that compare in double) is for
`verify` to find. Strings enter as strings, for the encoders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def input_types(model: Any, schema: Schema | None) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    if schema is None:
        return [("X", FloatTensorType([None, model.n_features_in_]))]
    return [
        (name, StringTensorType([None, 1]) if kind == STRING else FloatTensorType([None, 1]))
        for name, kind in zip(schema.names, schema.kinds, strict=True)
    ]


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


def to_onnx(model: Any, schema: Schema | None) -> bytes:
    """The model as a serialized ONNX graph; raises whatever skl2onnx raises."""
    from skl2onnx import convert_sklearn

    graph = convert_sklearn(
        model,
        initial_types=input_types(model, schema),
        options=_options(model),
        target_opset=OPSETS,
    )
    return graph.SerializeToString()
