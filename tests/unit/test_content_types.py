import pytest

from serving.codecs.content_types import negotiate, parse_content_type, preferred
from serving.errors import NotAcceptable

SUPPORTED = ("application/json", "text/csv", "application/jsonlines", "application/x-npy")


@pytest.mark.parametrize(
    ("header", "media_type", "charset"),
    [
        ("text/csv", "text/csv", None),
        ("text/csv; charset=utf-8", "text/csv", "utf-8"),
        ("TEXT/CSV;Charset=UTF-8", "text/csv", "utf-8"),
        ("application/x-jsonlines", "application/jsonlines", None),
        (None, "application/json", None),
        ("", "application/json", None),
    ],
)
def test_content_type_parameters_do_not_change_the_type(header, media_type, charset) -> None:
    parsed = parse_content_type(header)
    assert parsed.type == media_type
    assert parsed.charset == charset


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("application/json; charset=utf-8", "application/json"),
        ("text/csv;q=0.5, application/jsonlines;q=0.9", "application/jsonlines"),
        ("image/png, text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("application/x-npy, */*;q=0.1", "application/x-npy"),
    ],
)
def test_negotiate(accept, chosen) -> None:
    assert negotiate(accept, SUPPORTED, "application/json") == chosen


def test_wildcard_uses_the_configured_default() -> None:
    assert negotiate("*/*", SUPPORTED, "text/csv") == "text/csv"
    assert negotiate(None, SUPPORTED, "text/csv") == "text/csv"


@pytest.mark.parametrize("accept", ["image/png", "text/csv;q=0", "garbage;;;q=abc,,,"])
def test_unsatisfiable_accept_is_406(accept) -> None:
    with pytest.raises(NotAcceptable) as err:
        negotiate(accept, SUPPORTED, "application/json")
    assert err.value.status == 406


def test_preferred_passes_user_types_through() -> None:
    assert preferred("application/x-protobuf", "application/json") == "application/x-protobuf"
    assert preferred("*/*", "text/csv") == "text/csv"
    assert preferred("text/csv;q=0.2, application/json", "text/csv") == "application/json"
