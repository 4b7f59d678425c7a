"""`sklearn-deploy` pointed at sagemaker-local: the commands a user then runs against AWS,
deploy, deploy-multi, invoke, transform and delete, end to end with nothing changed but the
endpoint variables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import tabular
from tests.local.conftest import ROLE, Local, containers

pytestmark = pytest.mark.docker
SKLEARN_DEPLOY = str(Path(sys.executable).with_name("sklearn-deploy"))


def sklearn_deploy(local: Local, *args: str) -> str:
    result = subprocess.run(
        [SKLEARN_DEPLOY, *args], capture_output=True, text=True, env=local.env(), timeout=600, check=False
    )
    assert result.returncode == 0, f"sklearn-deploy {args[0]}: {result.stderr}"
    return result.stdout


def test_deploy_invoke_transform_and_delete(local: Local, tmp_path: Path) -> None:
    classifier, _ = tabular.write_classifier_pipeline(tmp_path / "classifier", trees=10)
    regressor, _ = tabular.write_regressor_with_missing_values(tmp_path / "regressor")
    frame = tabular.houses(rows=50, seed=8)
    hosting = ["--image", local.image, "--role", ROLE, "--poll-seconds", "0.5"]

    name = sklearn_deploy(
        local,
        "deploy",
        "--model",
        str(tmp_path / "classifier"),
        "--name",
        "houses",
        "--env",
        "SAGEMAKER_INFERENCE_OUTPUT=predicted_label,probability",
        *hosting,
    )
    assert name.strip() == "houses"
    answer = sklearn_deploy(
        local,
        "invoke",
        "houses",
        "--row",
        frame.iloc[:1].to_csv(header=False, index=False),
        "--accept",
        "text/csv",
    )
    label, probability = answer.strip().split(",")
    assert label == classifier.predict(frame.iloc[:1])[0]
    assert float(probability) == pytest.approx(classifier.predict_proba(frame.iloc[:1]).max())

    # transform: a local file is uploaded, the job runs on the endpoint's model, the .out comes back.
    data = tmp_path / "houses.csv"
    frame.to_csv(data, header=False, index=False)
    downloaded = sklearn_deploy(
        local,
        "transform",
        "--model-name",
        "houses",
        "--input",
        str(data),
        "--job-name",
        "houses-batch",
        "--download",
        str(tmp_path / "out"),
        "--poll-seconds",
        "0.5",
    )
    out = Path(downloaded.split()[-1])
    assert out.name == "houses.csv.out"
    lines = [line.split(",") for line in out.read_text().split()]
    assert [label for label, _ in lines] == list(classifier.predict(frame))
    assert containers("transform-jobs/houses-batch") == []

    # deploy-multi: the models are copied under the prefix and loaded on first use.
    for name, model in (("classifier", tmp_path / "classifier"), ("regressor", tmp_path / "regressor")):
        subprocess.run(["tar", "-czf", str(tmp_path / f"{name}.tar.gz"), "-C", str(model), "."], check=True)
    sklearn_deploy(
        local,
        "deploy-multi",
        "--name",
        "houses-multi",
        "--model",
        str(tmp_path / "classifier.tar.gz"),
        "--model",
        str(tmp_path / "regressor.tar.gz"),
        *hosting,
    )
    listed = sklearn_deploy(local, "list-models", "--endpoint", "houses-multi").split()
    assert listed == ["classifier.tar.gz", "regressor.tar.gz"]
    regression = sklearn_deploy(
        local,
        "invoke",
        "houses-multi",
        "--target-model",
        "regressor.tar.gz",
        "--row",
        frame[["year", "sqft", "lot"]].iloc[:2].to_csv(header=False, index=False).strip(),
        "--accept",
        "text/csv",
    )
    expected: Any = regressor.predict(frame[["year", "sqft", "lot"]].iloc[:2])
    assert [float(v) for v in regression.split()] == pytest.approx(list(expected))
    labels = sklearn_deploy(
        local,
        "invoke",
        "houses-multi",
        "--target-model",
        "classifier.tar.gz",
        "--row",
        frame.iloc[:1].to_csv(header=False, index=False).strip(),
        "--accept",
        "text/csv",
    )
    assert labels.split() == list(classifier.predict(frame.iloc[:1]))

    for endpoint in ("houses", "houses-multi"):
        sklearn_deploy(local, "delete", endpoint)
        assert containers(f"endpoints/{endpoint}") == []
    sagemaker = local.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
