"""Models fitted on DataFrames, served from every request shape their callers send."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import tabular
from serving.config import Settings
from serving.errors import BadRequest, ModelLoadError, UnsupportedMediaType
from serving.inference.pipeline import ModelHandler, Request
from serving.models import lifecycle

ROW = {"city": "NewYork_NY", "year": 2001, "sqft": 3331.0, "beds": 4, "baths": 2.5, "lot": 0.99, "pool": 1}
CSV_ROW = "NewYork_NY,2001,3331,4,2.5,0.99,1"


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelHandler, object]:
    model_dir = tmp_path_factory.mktemp("pipeline")
    model, _ = tabular.write_classifier_pipeline(model_dir)
    return lifecycle.load("houses", model_dir, Settings.from_env({})), model


def answer(
    handler: ModelHandler, body: str | bytes, content_type: str, accept: str = "application/json"
) -> object:
    raw = body.encode() if isinstance(body, str) else body
    response = handler.invoke(Request(raw, content_type, accept))
    return json.loads(response.body) if accept == "application/json" else response.body.decode()


def expected(model: object, *rows: dict[str, object]) -> list[str]:
    return list(model.predict(pd.DataFrame(list(rows))))  # type: ignore[attr-defined]


SHAPES = {
    "csv headerless": (CSV_ROW, "text/csv"),
    "csv header=present, any order": (
        "pool,lot,baths,beds,sqft,year,city\n1,0.99,2.5,4,3331,2001,NewYork_NY",
        "text/csv; header=present",
    ),
    "csv header named exactly": (",".join(tabular.COLUMNS) + "\n" + CSV_ROW, "text/csv"),
    "json records": (json.dumps([ROW]), "application/json"),
    "json one record": (json.dumps(ROW), "application/json"),
    "json instances of records": (json.dumps({"instances": [ROW]}), "application/json"),
    "json inputs of rows": (json.dumps({"inputs": [list(ROW.values())]}), "application/json"),
    "json columns and data": (
        json.dumps({"columns": list(ROW), "data": [list(ROW.values())]}),
        "application/json",
    ),
    "json dataframe_split": (
        json.dumps({"dataframe_split": {"columns": list(ROW)[::-1], "data": [list(ROW.values())[::-1]]}}),
        "application/json",
    ),
    "json dataframe_records": (json.dumps({"dataframe_records": [ROW]}), "application/json"),
    "jsonlines record": (json.dumps(ROW), "application/jsonlines"),
    "jsonlines row": (json.dumps(list(ROW.values())), "application/jsonlines"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_request_shape_gives_the_in_process_answer(classifier, shape: str) -> None:
    handler, model = classifier
    body, content_type = SHAPES[shape]
    assert answer(handler, body, content_type) == expected(model, ROW)


def test_many_rows_and_records_mixed_with_rows(classifier) -> None:
    handler, model = classifier
    frame = tabular.houses(25, seed=3)
    records = frame.to_dict(orient="records")
    lines = "\n".join(json.dumps(r if i % 2 else list(r.values())) for i, r in enumerate(records))
    assert answer(handler, lines, "application/jsonlines") == list(model.predict(frame))
    csv = frame.to_csv(index=False, header=False)
    assert answer(handler, csv, "text/csv", "text/csv").split("\n") == list(model.predict(frame))


def test_quoted_strings_keep_their_commas(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame = pd.DataFrame({"place": ["Portland, OR", "Portland, ME"] * 10, "size": range(20)})
    model = make_pipeline(
        __import__("sklearn.compose", fromlist=["x"]).ColumnTransformer(
            [("place", OrdinalEncoder(), ["place"])], remainder="passthrough"
        ),
        RandomForestRegressor(n_estimators=3, random_state=0),
    ).fit(frame, [1.0, 2.0] * 10)
    import joblib

    joblib.dump(model, tmp_path / "model.joblib")
    handler = lifecycle.load("m", tmp_path, Settings.from_env({}))
    got = answer(handler, '"Portland, ME",3\n"Portland, OR",4', "text/csv")
    assert (
        got
        == model.predict(pd.DataFrame({"place": ["Portland, ME", "Portland, OR"], "size": [3, 4]})).tolist()
    )


def test_empty_cells_and_nulls_are_missing_values(tmp_path: Path) -> None:
    model, _ = tabular.write_regressor_with_missing_values(tmp_path)
    handler = lifecycle.load("m", tmp_path, Settings.from_env({}))
    frame = pd.DataFrame({"year": [2001.0, 1990.0], "sqft": [1500.0, np.nan], "lot": [np.nan, 0.5]})
    want = model.predict(frame).tolist()  # type: ignore[attr-defined]
    assert answer(handler, "2001,1500,\n1990,,0.5", "text/csv") == want
    records = [{"year": 2001, "sqft": 1500, "lot": None}, {"year": 1990, "sqft": None, "lot": 0.5}]
    assert answer(handler, json.dumps(records), "application/json") == want


def test_a_text_pipeline_takes_one_string_per_row(tmp_path: Path) -> None:
    model, _ = tabular.write_text_classifier(tmp_path)
    handler = lifecycle.load("m", tmp_path, Settings.from_env({}))
    texts = ["warm and sunny", "grey, cold and wet"]
    want = model.predict(texts).tolist()  # type: ignore[attr-defined]
    assert answer(handler, 'warm and sunny\n"grey, cold and wet"', "text/csv") == want
    assert answer(handler, json.dumps(texts), "application/json") == want
    assert answer(handler, json.dumps({"instances": texts}), "application/json") == want
    assert answer(handler, "\n".join(map(json.dumps, texts)), "application/jsonlines") == want
    with pytest.raises(BadRequest, match="text 2 is a int"):
        answer(handler, '["fine", 3]', "application/json")


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (
            json.dumps([{k: v for k, v in ROW.items() if k != "sqft"}]),
            "application/json",
            "lack the column sqft",
        ),
        (json.dumps([{**ROW, "colour": "red"}]), "application/json", "unknown column colour"),
        (
            "NewYork_NY,two thousand,3331,4,2.5,0.99,1",
            "text/csv",
            "row 1, column 'year': 'two thousand' is not",
        ),
        ("NewYork_NY,2001,3331", "text/csv", "row 1 has 3 values; the model takes 7 columns"),
        ("city,year\nNewYork_NY,2001", "text/csv; header=present", "lack the columns sqft"),
        (CSV_ROW + "\n\n" + CSV_ROW, "text/csv", "row 2 is empty"),
        ('{"instances": 5}', "application/json", "expected a JSON list"),
    ],
)
def test_bad_input_names_the_problem(classifier, body: str, content_type: str, words: str) -> None:
    handler, _ = classifier
    with pytest.raises(BadRequest) as err:
        answer(handler, body, content_type)
    assert words in err.value.message


def test_an_unknown_category_is_refused_when_the_encoder_refuses_unknowns(tmp_path: Path) -> None:
    tabular.write_transformer(tmp_path)
    handler = lifecycle.load("m", tmp_path, Settings.from_env({}))
    with pytest.raises(BadRequest) as err:
        answer(handler, "Paris_FR,2001,3331,4,2.5,0.99,1", "text/csv")
    assert "Paris_FR" in err.value.message


def test_npy_stays_numbers_in_the_models_columns(tmp_path: Path) -> None:
    import io

    model, frame = tabular.write_regressor_with_missing_values(tmp_path)
    handler = lifecycle.load("m", tmp_path, Settings.from_env({}))
    buffer = io.BytesIO()
    np.save(buffer, frame.head(3).to_numpy())
    assert answer(handler, buffer.getvalue(), "application/x-npy") == model.predict(frame.head(3)).tolist()


def test_types_a_table_cannot_come_in_are_415(classifier) -> None:
    handler, _ = classifier
    with pytest.raises(UnsupportedMediaType):
        answer(handler, b"<houses/>", "application/xml")


def test_models_fitted_on_arrays_keep_the_numeric_path(tmp_path: Path) -> None:
    from tests.support import write_regressor

    write_regressor(tmp_path)
    assert lifecycle.load("m", tmp_path, Settings.from_env({})).schema is None


def test_input_schema_json_overrides_and_says_zip_codes_are_strings(tmp_path: Path) -> None:
    tabular.write_zip_model(tmp_path)
    (tmp_path / "input_schema.json").write_text(
        json.dumps({"columns": [{"name": "zip", "type": "string"}, {"name": "rooms", "type": "number"}]})
    )
    handler = lifecycle.load("m", tmp_path, Settings.from_env({}))
    assert handler.schema is not None and handler.schema.kinds == ("string", "number")
    # 02134 stays "02134": as a number it would have lost its leading zero.
    assert answer(handler, "02134,3", "text/csv") == [1.0]
    assert answer(handler, json.dumps([{"zip": "02134", "rooms": 3}]), "application/json") == [1.0]


def test_a_bad_input_schema_fails_the_load(tmp_path: Path) -> None:
    tabular.write_zip_model(tmp_path)
    (tmp_path / "input_schema.json").write_text(json.dumps({"columns": [{"name": "zip", "type": "date"}]}))
    with pytest.raises(ModelLoadError, match="number, string, any"):
        lifecycle.load("m", tmp_path, Settings.from_env({}))
