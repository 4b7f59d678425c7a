from serving.errors import BadRequest, ModelLoadFailed, describe


class Unprocessable(Exception):
    status_code = 422


def test_a_users_4xx_keeps_its_status_and_is_named_for_the_caller() -> None:
    assert describe(Unprocessable("no such city")) == (422, "BadRequest", "Unprocessable: no such city")


def test_a_users_unexpected_error_is_a_model_error() -> None:
    assert describe(RuntimeError("boom")) == (500, "ModelError", "RuntimeError: boom")


def test_our_errors_describe_themselves() -> None:
    assert describe(BadRequest("bad row")) == (400, "BadRequest", "bad row")
    assert describe(ModelLoadFailed("why")) == (503, "ModelLoadFailed", "why")
