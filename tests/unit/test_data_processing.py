"""DataProcessing (InputFilter, JoinSource, OutputFilter) on single records, with AWS's examples as cases."""

from __future__ import annotations

import json
import re

import pytest

from sagemaker_local.data_processing import (
    CONTENT_TYPES,
    MAX_PATH_LENGTH,
    SLICE_END_INCLUSIVE,
    DataProcessing,
    DataProcessingError,
)

CSV = "text/csv"
JSON = "application/json"
JSONL = "application/jsonlines"


def csv_input(path: str, record: bytes) -> bytes:
    return DataProcessing(input_filter=path).filter_input(record, CSV)


def json_input(path: str, record: object) -> object:
    return json.loads(DataProcessing(input_filter=path).filter_input(json.dumps(record).encode(), JSONL))


# --- the developer guide's CSV example -------------------------------------------------------------


def test_dg_example_id_column_dropped_for_the_model_and_kept_in_the_output() -> None:
    processing = DataProcessing.from_request(
        {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    )
    processing.check_job(CSV, CSV, "Line", "Line")
    assert processing.filter_input(b"id7,5.1,3.5", CSV) == b"5.1,3.5"
    assert processing.finish(b"id7,5.1,3.5", b"0.93", CSV, CSV) == b"id7,0.93"


def test_csv_join_appends_the_output_to_the_original_row() -> None:
    processing = DataProcessing(join_source="Input")
    assert processing.finish(b"1,2,3", b"1", CSV, CSV) == b"1,2,3,1"


def test_csv_join_uses_the_row_before_the_input_filter() -> None:
    processing = DataProcessing(input_filter="$[1:]", join_source="Input")
    assert processing.filter_input(b"id7,5.1,3.5", CSV) == b"5.1,3.5"
    assert processing.finish(b"id7,5.1,3.5", b"0.93", CSV, CSV) == b"id7,5.1,3.5,0.93"


def test_csv_join_appends_every_cell_of_a_multi_cell_reply() -> None:
    processing = DataProcessing(join_source="Input")
    assert processing.finish(b"id7,5.1", b"0,0.93", CSV, CSV) == b"id7,5.1,0,0.93"
    with_filter = DataProcessing(join_source="Input", output_filter="$[0,-2,-1]")
    assert with_filter.finish(b"id7,5.1", b"0,0.93", CSV, CSV) == b"id7,0,0.93"


# --- CSV selection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", b"a,b,c,d,e"),
        ("$[1:]", b"b,c,d,e"),
        ("$[:2]", b"a,b"),
        ("$[2:]", b"c,d,e"),
        ("$[0]", b"a"),
        ("$[-1]", b"e"),
        ("$[-2]", b"d"),
        ("$[1,3]", b"b,d"),
        ("$[0,-1]", b"a,e"),
        ("$[3,0]", b"d,a"),
        ("$[0,3:]", b"a,d,e"),
        ("$[-2:]", b"d,e"),
        ("$[*]", b"a,b,c,d,e"),
        ("$[ 0 , -1 ]", b"a,e"),
    ],
)
def test_csv_index_paths(path: str, expected: bytes) -> None:
    assert csv_input(path, b"a,b,c,d,e") == expected


def test_bounded_slice_end_is_exclusive_like_jayway() -> None:
    assert SLICE_END_INCLUSIVE is False
    assert csv_input("$[1:3]", b"a,b,c,d,e") == b"b,c"
    assert csv_input("$[1:-1]", b"a,b,c,d,e") == b"b,c,d"


def test_api_example_index_and_open_slice() -> None:
    # OutputFilter "$[0,5:]" from the API reference: the first column and the sixth onwards.
    processing = DataProcessing(join_source="Input", output_filter="$[0,5:]")
    assert processing.finish(b"id,f1,f2,f3,f4", b"0.5,1", CSV, CSV) == b"id,0.5,1"


def test_csv_cells_keep_their_text() -> None:
    assert csv_input("$[1:]", b"id, 5.10,0007,1e3,") == b" 5.10,0007,1e3,"


def test_csv_quoting_round_trips() -> None:
    # A comma or a quote inside a cell stays quoted; cells that need no quotes lose them.
    assert csv_input("$[1:]", b'x,"a,b","say ""hi""","plain"') == b'"a,b","say ""hi""",plain'
    processing = DataProcessing(join_source="Input", output_filter="$[0,-1]")
    assert processing.finish(b'"Doe, Jane",1', b'"0,9"', CSV, CSV) == b'"Doe, Jane","0,9"'


def test_csv_cell_with_carriage_return_stays_quoted() -> None:
    assert csv_input("$[1]", b'x,"a\rb"') == b'"a\rb"'


def test_a_single_empty_cell_is_written_as_empty_quotes() -> None:
    assert csv_input("$[1]", b"a,,c") == b'""'


def test_malformed_csv_is_an_error() -> None:
    with pytest.raises(DataProcessingError, match="not an RFC 4180 CSV row"):
        csv_input("$[0]", b'"a"b,c')


@pytest.mark.parametrize("path", ["$[5]", "$[-6]", "$[0,7]", "$[7:]", "$[:9]"])
def test_indexes_outside_the_row_are_errors(path: str) -> None:
    with pytest.raises(DataProcessingError, match="outside an array of 5") as caught:
        csv_input(path, b"a,b,c,d,e")
    assert path in str(caught.value) and "a,b,c,d,e" in str(caught.value)


def test_a_csv_selection_of_nothing_is_an_error() -> None:
    with pytest.raises(DataProcessingError, match="cannot be empty"):
        csv_input("$[2:]", b"a,b")


def test_name_paths_find_nothing_in_a_csv_row() -> None:
    with pytest.raises(DataProcessingError, match="needs an object, found an array"):
        csv_input("$.id", b"a,b")


# --- JSON selection -------------------------------------------------------------------------------


def test_api_example_features() -> None:
    assert json_input("$.features", {"id": 1, "features": [1, 2]}) == [1, 2]


def test_multiple_names_give_an_object_with_those_keys() -> None:
    record = {"id": 1, "features": [1, 2], "SageMakerOutput": {"label": 1}}
    assert json_input("$['id','SageMakerOutput']", record) == {"id": 1, "SageMakerOutput": {"label": 1}}


def test_wildcard_gives_the_values() -> None:
    assert json_input("$.id.*", {"id": {"a": 1, "b": 2}}) == [1, 2]
    assert json_input("$.id.*", {"id": [3, 4]}) == [3, 4]
    assert json_input("$.*", {"a": 1, "b": "x"}) == [1, "x"]


def test_nested_names_after_a_dot_and_bracket() -> None:
    record = {"field1": {"child1": 1, "child2": [2], "other": 3}}
    assert json_input("$.field1.['child1','child2']", record) == {"child1": 1, "child2": [2]}
    assert json_input("$.field1['child1']", record) == 1


def test_indexes_on_json_arrays() -> None:
    assert json_input("$[1]", [10, 20, 30]) == 20
    assert json_input("$[-1]", [10, 20, 30]) == 30
    assert json_input("$[1,2]", [10, 20, 30]) == [20, 30]
    assert json_input("$[1:3]", [10, 20, 30, 40]) == [20, 30]
    assert json_input("$.rows[0].x", {"rows": [{"x": 1}]}) == 1


def test_indefinite_paths_collect_matches() -> None:
    record = {"rows": [{"x": 1}, {"x": 2}]}
    assert json_input("$.rows[*].x", record) == [1, 2]
    assert json_input("$.rows[:].x", record) == [1, 2]


def test_missing_key_is_an_error_naming_path_and_record() -> None:
    with pytest.raises(DataProcessingError, match="no attribute 'features'") as caught:
        DataProcessing(input_filter="$.features").filter_input(b'{"id":1}', JSONL)
    message = str(caught.value)
    assert "InputFilter '$.features'" in message and '{"id":1}' in message


def test_missing_one_of_several_names_is_an_error() -> None:
    with pytest.raises(DataProcessingError, match="no attribute 'b'"):
        json_input("$['a','b']", {"a": 1})


def test_long_records_are_shortened_in_errors() -> None:
    record = json.dumps({"id": 1, "pad": "x" * 1000}).encode()
    with pytest.raises(DataProcessingError) as caught:
        DataProcessing(input_filter="$.features").filter_input(record, JSON)
    assert len(str(caught.value)) < 300 and str(caught.value).endswith("...")


def test_json_output_is_one_compact_line() -> None:
    line = DataProcessing(input_filter="$.text").filter_input(b'{"text": "a\\nb \\u00e9"}', JSONL)
    assert line == '"a\\nb é"'.encode()


def test_invalid_json_is_an_error() -> None:
    with pytest.raises(DataProcessingError, match="not JSON"):
        DataProcessing(input_filter="$.a").filter_input(b"{nope", JSONL)


def test_content_type_parameters_are_ignored() -> None:
    processing = DataProcessing(input_filter="$[0]")
    assert processing.filter_input(b"a,b", "text/csv; charset=utf-8") == b"a"


# --- JSON joins -----------------------------------------------------------------------------------


def test_json_join_adds_sagemaker_output_to_the_input_object() -> None:
    processing = DataProcessing(join_source="Input")
    assert (
        processing.finish(b'{"key":1}', b'{"label":1}', JSONL, JSONL)
        == b'{"key":1,"SageMakerOutput":{"label":1}}'
    )


def test_json_join_wraps_a_non_object_input() -> None:
    processing = DataProcessing(join_source="Input")
    joined = processing.finish(b"[1,2]", b"0.5", JSON, JSON)
    assert json.loads(joined) == {"SageMakerInput": [1, 2], "SageMakerOutput": 0.5}


def test_json_join_uses_the_record_before_the_input_filter() -> None:
    processing = DataProcessing(input_filter="$.features", join_source="Input")
    source = b'{"id":1,"features":[28,2]}'
    assert processing.filter_input(source, JSONL) == b"[28,2]"
    assert json.loads(processing.finish(source, b'{"predicted_label":1,"score":0.98}', JSONL, JSONL)) == {
        "id": 1,
        "features": [28, 2],
        "SageMakerOutput": {"predicted_label": 1, "score": 0.98},
    }


def test_api_example_output_filter_on_a_json_join() -> None:
    processing = DataProcessing.from_request(
        {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"}
    )
    out = processing.finish(b'{"id":1,"features":[1,2]}', b'{"label":1}', JSONL, JSON)
    assert out == b'{"id":1,"SageMakerOutput":{"label":1}}'


def test_sagemaker_output_is_reserved_in_the_input() -> None:
    processing = DataProcessing(join_source="Input")
    with pytest.raises(DataProcessingError, match=r"SageMakerOutput.*reserved"):
        processing.finish(b'{"SageMakerOutput":1}', b"2", JSONL, JSONL)


def test_output_filter_without_join_applies_to_the_output() -> None:
    processing = DataProcessing(output_filter="$.score")
    assert processing.finish(b"ignored", b'{"label":1,"score":0.9}', JSONL, JSONL) == b"0.9"
    csv_processing = DataProcessing(output_filter="$[-1]")
    assert csv_processing.finish(b"ignored", b"0,0.93", CSV, CSV) == b"0.93"


def test_no_join_and_no_output_filter_passes_the_output_through() -> None:
    processing = DataProcessing(input_filter="$[1:]")
    assert processing.finish(b"id,1", b" 0.50 ", CSV, CSV) == b" 0.50 "


def test_csv_join_with_json_on_the_other_side_is_an_error() -> None:
    processing = DataProcessing(join_source="Input")
    for content_type, accept in ((CSV, JSON), (JSONL, CSV)):
        with pytest.raises(DataProcessingError, match="same format on both sides"):
            processing.finish(b"1,2", b"[1]", content_type, accept)
        with pytest.raises(DataProcessingError, match=r"JoinSource"):
            processing.check_job(content_type, accept, "Line", "Line")


def test_json_and_json_lines_join_with_each_other() -> None:
    processing = DataProcessing(join_source="Input")
    assert processing.finish(b'{"a":1}', b"[1]", JSON, JSONL) == b'{"a":1,"SageMakerOutput":[1]}'


# --- parsing paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "$",
        "$.id",
        "$.id.*",
        "$['id','SageMakerOutput']",
        '$["id"]',
        "$[1]",
        "$[1,3,5]",
        "$[2:5]",
        "$[:5]",
        "$[2:]",
        "$[0,5:]",
        "$[0,-1]",
        "$[*]",
        "$.field1.['child1','child2']",
        "$.a.b[0].c",
    ],
)
def test_supported_paths_compile(path: str) -> None:
    DataProcessing(input_filter=path, output_filter=path)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("$.field1.['child1','child2.grandchild']", "cannot contain '.'"),
        ("id", "must start with the root"),
        ("", "must start with the root"),
        ("$..id", "recursive descent"),
        ("$.", "cannot end with '.'"),
        ("$.a.", "cannot end with '.'"),
        ("$[?(@.a)]", "filter"),
        ("$[0:5:2]", "slice steps"),
        ("$[", "expected an index"),
        ("$[1", "expected ',' or ']'"),
        ("$['a'", "expected ',' or ']'"),
        ("$['a", "unterminated"),
        ("$[a]", "expected an index"),
        ("$['a',1]", "expected a quoted name"),
        ("$x", "unexpected 'x'"),
        ("$.a b", "unexpected ' '"),
    ],
)
def test_unsupported_paths_are_rejected_up_front(path: str, reason: str) -> None:
    with pytest.raises(DataProcessingError, match=re.escape(reason)) as caught:
        DataProcessing.from_request({"OutputFilter": path})
    assert "DataProcessing.OutputFilter" in str(caught.value)


def test_paths_are_limited_to_63_characters() -> None:
    longest = "$." + "a" * (MAX_PATH_LENGTH - 2)
    assert MAX_PATH_LENGTH == 63 and len(longest) == 63
    DataProcessing.from_request({"InputFilter": longest})
    with pytest.raises(DataProcessingError, match="64 characters long"):
        DataProcessing.from_request({"InputFilter": longest + "a"})


def test_from_request_defaults() -> None:
    for spec in (None, {}, {"InputFilter": None, "OutputFilter": None, "JoinSource": None}):
        processing = DataProcessing.from_request(spec)
        assert processing == DataProcessing()
        assert processing.is_identity


def test_from_request_reads_all_three_keys() -> None:
    processing = DataProcessing.from_request(
        {"InputFilter": "$[1:]", "OutputFilter": "$[0]", "JoinSource": "Input"}
    )
    assert processing == DataProcessing("$[1:]", "$[0]", "Input")


def test_join_source_values() -> None:
    with pytest.raises(DataProcessingError, match="JoinSource must be one of None, Input"):
        DataProcessing.from_request({"JoinSource": "Output"})
    with pytest.raises(DataProcessingError, match="must be a string"):
        DataProcessing.from_request({"InputFilter": 1})


@pytest.mark.parametrize(
    "spec",
    [{"InputFilter": "$[1:]"}, {"OutputFilter": "$[0]"}, {"JoinSource": "Input"}],
)
def test_anything_but_the_defaults_is_not_identity(spec: dict[str, str]) -> None:
    assert not DataProcessing.from_request(spec).is_identity


def test_identity_leaves_records_untouched() -> None:
    processing = DataProcessing()
    assert processing.filter_input(b'"a" , 5.10', CSV) == b'"a" , 5.10'
    assert processing.finish(b"x", b'not even csv"', CSV, CSV) == b'not even csv"'


# --- check_job ------------------------------------------------------------------------------------


def test_check_job_skips_identity() -> None:
    DataProcessing().check_job(None, None, "None", "None")
    DataProcessing().check_job("application/x-npy", "application/x-parquet", "None", "None")


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_check_job_accepts_the_three_types(content_type: str) -> None:
    DataProcessing(join_source="Input").check_job(content_type, content_type, "Line", "Line")


@pytest.mark.parametrize(
    ("content_type", "accept", "parameter"),
    [
        (None, CSV, "TransformInput.ContentType"),
        ("application/x-npy", CSV, "TransformInput.ContentType"),
        (CSV, None, "TransformOutput.Accept"),
        (CSV, "application/x-recordio-protobuf", "TransformOutput.Accept"),
    ],
)
def test_check_job_rejects_other_types(content_type: str | None, accept: str | None, parameter: str) -> None:
    with pytest.raises(DataProcessingError, match=re.escape(parameter)):
        DataProcessing(input_filter="$[1:]").check_job(content_type, accept, "Line", "Line")


def test_check_job_csv_needs_line_split_and_assembly() -> None:
    processing = DataProcessing(input_filter="$[1:]")
    with pytest.raises(DataProcessingError, match=r"TransformInput\.SplitType must be Line"):
        processing.check_job(CSV, CSV, "None", "Line")
    with pytest.raises(DataProcessingError, match=r"TransformOutput\.AssembleWith must be Line"):
        processing.check_job(CSV, CSV, "Line", "None")
    with pytest.raises(DataProcessingError, match="AssembleWith must be Line"):
        processing.check_job(JSONL, CSV, "Line", "None")


def test_check_job_json_allows_whole_documents() -> None:
    DataProcessing(input_filter="$.features", join_source="Input").check_job(JSON, JSON, "None", "None")


@pytest.mark.parametrize(
    ("spec", "parameter"),
    [
        ({"InputFilter": "$.id"}, "InputFilter"),
        ({"InputFilter": "$[0][1]"}, "InputFilter"),
        ({"OutputFilter": "$['id','SageMakerOutput']", "JoinSource": "Input"}, "OutputFilter"),
    ],
)
def test_check_job_csv_allows_only_index_paths(spec: dict[str, str], parameter: str) -> None:
    with pytest.raises(
        DataProcessingError, match=rf"DataProcessing\.{parameter} .* cannot apply to text/csv"
    ):
        DataProcessing.from_request(spec).check_job(CSV, CSV, "Line", "Line")


def test_check_job_output_filter_sees_the_joined_json_record() -> None:
    # JSON input joined: the OutputFilter applies to an object, so names are fine even with CSV nowhere.
    DataProcessing(join_source="Input", output_filter="$['id','SageMakerOutput']").check_job(
        JSONL, JSONL, "Line", "Line"
    )
    # Not joined with CSV output: the OutputFilter applies to the CSV reply.
    with pytest.raises(DataProcessingError, match="OutputFilter"):
        DataProcessing(output_filter="$.score").check_job(JSONL, CSV, "Line", "Line")
