"""One contract for user hooks and errors, held against both engines in docker.

The same model directory (a regressor and a `code/inference.py` whose hooks all take a
trailing `context`) is served once per engine, in single-model mode. Each test compares
the engine's answer with a fixed expectation, so the engines agree with the README and,
through it, with each other.

The script's hooks are steered by the request: a JSON body
`{"rows": [...], "fail": {...}, "output": ...}` says which hook raises what, and how
`output_fn` answers; a CSV body is rows parsed by `input_fn` itself. The default answer
is a JSON report of what each hook saw in its `context`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from harness.waiting import WaitTimeout, wait_until
from tests.container.conftest import Container, run_container
from tests.support import csv_rows, features, wait_for_ping, write_regressor

pytestmark = pytest.mark.docker

ENGINES = ["flask", "mms"]
MODEL = "/opt/ml/model"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
PROBE = "application/vnd.contract+json"
PAYLOAD_LIMIT = 6 * 1024 * 1024
# Spellings a hook may use for the same header; HTTP header names are case-insensitive,
# and the engines spell them differently (Title-Case and lower-case).
SPELLINGS = [
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-Sagemaker-Custom-Attributes",
    "x-amzn-sagemaker-custom-attributes",
    "X-Contract-Probe",
    "x-contract-probe",
]

INFERENCE = """
import json
import os

import joblib
import numpy as np

SPELLINGS = __SPELLINGS__


class Unprocessable(Exception):
    status_code = 422


class InvalidInput(ValueError):
    status_code = 400


class Unavailable(Exception):
    status_code = 503


class NotAStatus(Exception):
    status_code = 200


ERRORS = {
    "Unprocessable": Unprocessable,
    "Unavailable": Unavailable,
    "NotAStatus": NotAStatus,
    "RuntimeError": RuntimeError,
}


def seen(context):
    headers = context.request_headers
    return {
        "model_name": context.model_name,
        "model_dir": context.model_dir,
        "custom_attributes": context.custom_attributes,
        "get": {name: headers.get(name) for name in SPELLINGS},
        "contains": {name: name in headers for name in SPELLINGS},
        "headers": {str(key): value for key, value in headers.items()},
    }


def fail(request, hook):
    wanted = request["fail"]
    if wanted and wanted["in"] == hook:
        raise ERRORS[wanted["with"]](f"refused in {hook}")


def model_fn(model_dir, context):
    return {
        "estimator": joblib.load(os.path.join(model_dir, "model.joblib")),
        "load": {"model_dir_argument": model_dir, **seen(context)},
    }


def input_fn(body, content_type, context):
    request = {"fail": None, "output": "probe", "content_type": None}
    if content_type == "text/csv":
        rows = []
        for number, line in enumerate(body.split("\\n"), start=1):
            try:
                rows.append([float(cell) for cell in line.split(",")])
            except ValueError:
                raise InvalidInput(f"CSV row {number} is not all numbers: {line[:40]!r}") from None
    else:
        request.update(json.loads(body))
        rows = request["rows"]
    request["body_type"] = type(body).__name__
    request["content_type_seen"] = content_type
    request["seen"] = {"input_fn": seen(context)}
    fail(request, "input_fn")
    request["rows"] = np.array(rows, dtype=float)
    return request


def predict_fn(request, model, context):
    request["seen"]["predict_fn"] = seen(context)
    fail(request, "predict_fn")
    request["prediction"] = model["estimator"].predict(request["rows"])
    request["load"] = model["load"]
    return request


def output_fn(request, accept, context):
    request["seen"]["output_fn"] = seen(context)
    fail(request, "output_fn")
    prediction = request["prediction"]
    if request["output"] == "array":
        return prediction
    if request["output"] == "tuple":
        return "contract body", request["content_type"]
    if request["output"] == "tuple-array":
        return prediction, request["content_type"]
    report = {
        key: request[key] for key in ("seen", "load", "body_type", "content_type_seen")
    }
    report["accept"] = accept
    report["prediction"] = prediction.tolist()
    return json.dumps(report), "__PROBE__"
""".replace("__SPELLINGS__", repr(SPELLINGS)).replace("__PROBE__", PROBE)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("contract") / "model"
    model = write_regressor(root, trees=5)
    (root / "code").mkdir()
    (root / "code" / "inference.py").write_text(INFERENCE)
    return root, model


@pytest.fixture(scope="module")
def model(model_dir: tuple[Path, Any]) -> Any:
    return model_dir[1]


@pytest.fixture(scope="module", params=ENGINES)
def served(
    request: pytest.FixtureRequest, images: dict[str, str], model_dir: tuple[Path, Any]
) -> Iterator[Container]:
    """One container per engine for the whole module."""
    env = {"SAGEMAKER_MODEL_SERVER": request.param, "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    with run_container(
        images[request.param], "serve", volumes={model_dir[0]: f"{MODEL}:ro"}, env=env
    ) as container:
        wait_for_ping(container.url, deadline_s=120)
        # multi-model-server answers /ping before its worker has run model_fn: wait until
        # the model answers too.
        wait_for_invocation(container, deadline_s=120)
        yield container


def wait_for_invocation(container: Container, deadline_s: float) -> None:
    try:
        wait_until(
            lambda: invoke(container, {"rows": features(1).tolist()}),
            deadline_s,
            "a successful invocation",
            ready=lambda r: r.status_code == 200,
            errors=(requests.RequestException,),
            describe=lambda r: f"{r.status_code} {r.text[:300]}",
            interval_s=0.2,
        )
    except WaitTimeout as exc:
        raise AssertionError(f"{exc}\n{container.logs()[-3000:]}") from None


def invoke(
    container: Container,
    body: dict[str, Any] | str | bytes,
    content_type: str | None = "application/json",
    **headers: str | None,
) -> requests.Response:
    data = json.dumps(body) if isinstance(body, dict) else body
    sent = {"Content-Type": content_type} | {name.replace("_", "-"): value for name, value in headers.items()}
    return requests.post(f"{container.url}/invocations", data=data, headers=sent, timeout=60)


def request_for(rows: np.ndarray, **instructions: Any) -> dict[str, Any]:
    return {"rows": rows.tolist(), **instructions}


def error_of(response: requests.Response) -> dict[str, Any]:
    content_type = response.headers.get("Content-Type")
    assert content_type == "application/json", f"error Content-Type {content_type!r}, body {response.text!r}"
    body = response.json()
    assert set(body) == {"error", "message"}, body
    return body


# --- context ----------------------------------------------------------------------------


def test_model_fn_gets_the_model_dir_and_a_context_without_a_request(served: Container) -> None:
    report = invoke(served, request_for(features(1))).json()
    assert report["load"] == {
        "model_dir_argument": MODEL,
        "model_dir": MODEL,
        "model_name": "model",
        "custom_attributes": None,
        "get": dict.fromkeys(SPELLINGS),
        "contains": dict.fromkeys(SPELLINGS, False),
        "headers": {},
    }


def test_every_request_hook_sees_the_custom_attributes(served: Container) -> None:
    value = "trace=abc-123, tenant=7"
    response = invoke(served, request_for(features(2)), **{CUSTOM_ATTRIBUTES: value})
    assert response.status_code == 200, response.text
    seen = response.json()["seen"]
    assert list(seen) == ["input_fn", "predict_fn", "output_fn"]
    for hook, context in seen.items():
        assert context["custom_attributes"] == value, f"{hook} got {context['custom_attributes']!r}"
        assert context["model_name"] == "model", hook
        assert context["model_dir"] == MODEL, hook


def test_custom_attributes_are_echoed_on_answers_and_errors(served: Container) -> None:
    value = "session=42"
    answers = [
        invoke(served, request_for(features(1)), **{CUSTOM_ATTRIBUTES: value}),
        invoke(
            served,
            request_for(features(1), fail={"in": "predict_fn", "with": "Unprocessable"}),
            **{CUSTOM_ATTRIBUTES: value},
        ),
        invoke(
            served,
            request_for(features(1), fail={"in": "output_fn", "with": "RuntimeError"}),
            **{CUSTOM_ATTRIBUTES: value},
        ),
        invoke(served, b"1,2,\xff", "text/csv", **{CUSTOM_ATTRIBUTES: value}),
    ]
    assert [a.status_code for a in answers] == [200, 422, 500, 400]
    echoed = [a.headers.get(CUSTOM_ATTRIBUTES) for a in answers]
    assert echoed == [value] * 4, f"echoed on 200, 422, 500, 400: {echoed}"
    # Nothing is echoed that was not sent.
    assert CUSTOM_ATTRIBUTES not in invoke(served, request_for(features(1))).headers


def test_request_headers_are_looked_up_case_insensitively(served: Container) -> None:
    headers = {CUSTOM_ATTRIBUTES: "a=1", "X-Contract-Probe": "Mixed Case Value"}
    response = invoke(served, request_for(features(1)), **headers)
    assert response.status_code == 200, response.text
    expected_get = {
        name: ("a=1" if "attributes" in name.lower() else "Mixed Case Value") for name in SPELLINGS
    }
    for hook, context in response.json()["seen"].items():
        assert context["get"] == expected_get, f"{hook}: request_headers.get gave {context['get']}"
        assert context["contains"] == dict.fromkeys(SPELLINGS, True), (
            f"{hook}: `in` gave {context['contains']}"
        )


def test_hooks_see_the_headers_the_client_sent_and_nothing_else(served: Container) -> None:
    session = requests.Session()
    prepared = session.prepare_request(
        requests.Request(
            "POST",
            f"{served.url}/invocations",
            data=json.dumps(request_for(features(1))),
            headers={"Content-Type": "application/json", "X-Contract-Probe": "1", CUSTOM_ATTRIBUTES: "b=2"},
        )
    )
    sent = {name.lower(): value for name, value in prepared.headers.items()}
    response = session.send(prepared, timeout=60)
    assert response.status_code == 200, response.text
    for hook, context in response.json()["seen"].items():
        got = {name.lower(): value for name, value in context["headers"].items()}
        # The server adds Host; every other name is one the client sent, with its value.
        assert set(got) - set(sent) == {"host"}, f"{hook} saw headers the client never sent: {got}"
        for name in ("content-type", "x-contract-probe", CUSTOM_ATTRIBUTES.lower()):
            assert got[name] == sent[name], (hook, name)


def test_input_fn_gets_text_as_str_binary_as_bytes_and_the_bare_media_type(served: Container) -> None:
    X = features(2, seed=5)
    cases = [
        (csv_rows(X).encode(), "text/csv; charset=utf-8", "str", "text/csv"),
        (
            json.dumps(request_for(X)).encode("utf-16"),
            "application/json; charset=utf-16",
            "str",
            "application/json",
        ),
        (json.dumps(request_for(X)).encode(), None, "str", "application/json"),
        (
            json.dumps(request_for(X)).encode(),
            "application/octet-stream",
            "bytes",
            "application/octet-stream",
        ),
    ]
    for body, content_type, body_type, media_type in cases:
        response = invoke(served, body, content_type)
        assert response.status_code == 200, (content_type, response.text)
        report = response.json()
        assert (report["body_type"], report["content_type_seen"]) == (body_type, media_type), content_type


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["input_fn", "predict_fn", "output_fn"])
def test_a_user_error_keeps_its_4xx_status_as_a_bad_request(served: Container, hook: str) -> None:
    response = invoke(served, request_for(features(1), fail={"in": hook, "with": "Unprocessable"}))
    assert response.status_code == 422, response.text
    expected = {"error": "BadRequest", "message": f"Unprocessable: refused in {hook}"}
    assert error_of(response) == expected, response.text


@pytest.mark.parametrize(
    ("hook", "error", "status"),
    [
        ("input_fn", "RuntimeError", 500),
        ("predict_fn", "RuntimeError", 500),
        ("output_fn", "RuntimeError", 500),
        ("predict_fn", "Unavailable", 503),  # status_code 503 is kept, and it is a fault
        ("predict_fn", "NotAStatus", 500),  # status_code 200 is no error status
    ],
)
def test_a_fault_in_a_hook_is_a_model_error(served: Container, hook: str, error: str, status: int) -> None:
    response = invoke(served, request_for(features(1), fail={"in": hook, "with": error}))
    assert response.status_code == status, response.text
    expected = {"error": "ModelError", "message": f"{error}: refused in {hook}"}
    assert error_of(response) == expected, response.text
    # The engine keeps serving after a fault.
    assert invoke(served, request_for(features(1))).status_code == 200


BAD_BODIES = {
    # Refused while the text is decoded, before input_fn runs.
    "not-utf-8": (
        b"1,2,\xff",
        "text/csv",
        400,
        "BadRequest",
        "the body is not valid utf-8 text (bad byte at offset 4)",
    ),
    "unknown-charset": (
        b"1,2",
        "text/csv; charset=no-such-charset",
        415,
        "UnsupportedMediaType",
        "unknown charset 'no-such-charset'",
    ),
    # Refused by input_fn, with an error whose status_code is 400.
    "input_fn-refuses": (
        b"sqft,beds\n1,2",
        "text/csv",
        400,
        "BadRequest",
        "InvalidInput: CSV row 1 is not all numbers: 'sqft,beds'",
    ),
    # Over SAGEMAKER_MAX_PAYLOAD_IN_MB (6 MB by default).
    "too-large": (
        b"1" * (PAYLOAD_LIMIT + 1),
        "text/csv",
        413,
        "PayloadTooLarge",
        f"the request body is larger than {PAYLOAD_LIMIT} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_bad_body_is_refused_with_the_reason(served: Container, case: str) -> None:
    body, content_type, status, error, message = BAD_BODIES[case]
    response = invoke(served, body, content_type)
    assert response.status_code == status, response.text
    assert error_of(response) == {"error": error, "message": message}, response.text


# --- output ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "content_type", "accept"),
    [
        ("tuple", "application/vnd.contract+json; version=2", "application/json"),
        ("tuple", "text/plain; charset=iso-8859-1", None),
        ("tuple", "text/csv", "application/json"),
        ("tuple-array", "text/csv", "application/json"),
    ],
)
def test_output_fn_content_type_is_the_response_content_type(
    served: Container, model: Any, output: str, content_type: str, accept: str | None
) -> None:
    X = features(3, seed=8)
    response = invoke(served, request_for(X, output=output, content_type=content_type), Accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == content_type
    if output == "tuple":
        assert response.content == b"contract body"
    else:  # an array with a content type gets the built-in encoding for that type
        assert response.content == "\n".join(map(repr, model.predict(X).tolist())).encode()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv", "text/csv"),
        ("application/json", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/csv;q=0.4, application/json;q=0.9", "application/json"),
        ("application/json;q=0.4, text/csv", "text/csv"),
    ],
)
def test_accept_picks_the_built_in_encoding(
    served: Container, model: Any, accept: str | None, expected: str
) -> None:
    X = features(3, seed=9)
    prediction = model.predict(X).tolist()
    body = {
        "text/csv": "\n".join(map(repr, prediction)),
        "application/json": json.dumps(prediction),
        "application/jsonlines": "\n".join(json.dumps(value) for value in prediction),
    }[expected]
    response = invoke(served, request_for(X, output="array"), Accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == expected
    assert response.content == body.encode()


def test_an_accept_nothing_can_produce_is_406(served: Container) -> None:
    response = invoke(served, request_for(features(1), output="array"), Accept="image/png")
    assert response.status_code == 406, response.text
    error = error_of(response)
    assert error["error"] == "NotAcceptable", response.text
    assert error["message"].startswith("cannot produce 'image/png'; supported: "), response.text
    for media_type in ("application/json", "text/csv", "application/jsonlines", "application/x-npy"):
        assert media_type in error["message"], response.text
