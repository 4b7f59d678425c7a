"""invoke against moto: the request reaches the runtime API, the answer is decoded.

moto answers invoke_endpoint from a queue of canned results, one per distinct request
(body, Accept and X-Amzn-SageMaker-* headers), so a different TargetModel takes the next
answer and the same one gets its first answer again: that shows the header is sent.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from deploy.errors import DeployError
from deploy.invoke import Answer
from tests.deploy.conftest import Moto
from tests.support import csv_rows, features


def test_invoke_a_csv_file_prints_the_json_answer(moto: Moto, tmp_path: Path) -> None:
    moto.set_endpoint_results({"Body": "[1.5, 2.5]", "ContentType": "application/json"})
    payload = tmp_path / "rows.csv"
    payload.write_text(csv_rows(features(2)))
    result = moto.ok("invoke", "housing", "--file", str(payload))
    assert json.loads(result.stdout) == [1.5, 2.5]


def test_invoke_rows_and_csv_answers(moto: Moto) -> None:
    moto.set_endpoint_results({"Body": "101.0\n202.0", "ContentType": "text/csv"})
    result = moto.ok(
        "invoke", "housing", "--row", "1,2,3,4,5,6", "--row", "6,5,4,3,2,1", "--accept", "text/csv"
    )
    assert result.stdout.splitlines() == ["101.0", "202.0"]


def test_target_model_is_sent_with_each_request(moto: Moto) -> None:
    moto.set_endpoint_results(
        {"Body": '"chicago"', "ContentType": "application/json"},
        {"Body": '"houston"', "ContentType": "application/json"},
    )

    def ask(target: str) -> str:
        result = moto.ok("invoke", "cities", "--row", "1,2,3,4,5,6", "--target-model", target)
        return json.loads(result.stdout)

    assert ask("Chicago_IL.tar.gz") == "chicago"
    assert ask("Houston_TX.tar.gz") == "houston"
    assert ask("Chicago_IL.tar.gz") == "chicago"


def test_invoke_an_inline_json_body(moto: Moto) -> None:
    moto.set_endpoint_results({"Body": '{"predictions": [7]}', "ContentType": "application/json"})
    result = moto.ok(
        "invoke", "housing", "--body", "[[1, 2, 3, 4, 5, 6]]", "--content-type", "application/json"
    )
    assert json.loads(result.stdout) == {"predictions": [7]}


def test_answers_decode_by_their_content_type() -> None:
    # moto keeps canned bodies as text, so binary answers are checked here, without AWS.
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1.0, 2.0]]))
    assert json.loads(Answer(buffer.getvalue(), "application/x-npy").decoded()) == [[1.0, 2.0]]
    assert Answer(b'{"a": 1}', "application/json; charset=utf-8").decoded() == '{"a": 1}'
    assert Answer(b'{"a": 1}\n{"a": 2}', "application/jsonlines").decoded() == '{"a": 1}\n{"a": 2}'
    with pytest.raises(DeployError, match="save it with --output"):
        Answer(b"\x89PNG\xff", "image/png").decoded()


def test_invoke_output_writes_the_raw_answer(moto: Moto, tmp_path: Path) -> None:
    moto.set_endpoint_results({"Body": "[3]", "ContentType": "application/json"})
    out = tmp_path / "answer.json"
    result = moto.ok("invoke", "housing", "--row", "1,2,3,4,5,6", "--output", str(out))
    assert out.read_text() == "[3]"
    assert result.stdout == ""
    assert "wrote 3 bytes of application/json" in result.stderr


def test_invoke_unknown_file_type_asks_for_a_content_type(moto: Moto, tmp_path: Path) -> None:
    payload = tmp_path / "rows.txt"
    payload.write_text("1,2,3")
    result = moto.cli("invoke", "housing", "--file", str(payload))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot tell the content type of")
    assert "--content-type" in result.stderr
