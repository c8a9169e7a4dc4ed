"""Tests of the mapping expression language: parser, checks, functions and row failures."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import ConfigurationError
from core.mapping import FUNCTIONS, ExpressionError, compile_expression, function_reference, parse, register
from core.mapping.functions import FAMILIES, REFERENCE_PATH, reference_page
from core.mapping.syntax import Binary, Call, Column, Literal, Negate, walk
from core.mapping.tokens import tokenize


def evaluate(expression: str, frame: pd.DataFrame):
    """Compiles against the frame's columns and evaluates."""
    return compile_expression(expression, list(frame.columns)).evaluate(frame)


def compile_error(text: str) -> ExpressionError:
    """The ExpressionError compiling ``text`` raises."""
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    return caught.value


def values(expression: str, frame: pd.DataFrame) -> list:
    """The evaluated values as a list, NA as None."""
    result = evaluate(expression, frame).values
    return [None if pd.isna(v) else v for v in result.tolist()]


# --- parser ---------------------------------------------------------------------------------------


def test_multiplication_binds_tighter_than_addition() -> None:
    assert parse("a + b * c") == Binary(
        "+", Column("a", 0), Binary("*", Column("b", 4), Column("c", 8), 6), 2
    )


def test_parentheses_override_precedence() -> None:
    node = parse("(a + b) * c")
    assert isinstance(node, Binary) and node.op == "*"
    assert isinstance(node.left, Binary) and node.left.op == "+"


def test_subtraction_and_division_are_left_associative() -> None:
    node = parse("a - b - c")
    assert isinstance(node, Binary) and isinstance(node.left, Binary)
    assert (node.left.left, node.left.right, node.right) == (Column("a", 0), Column("b", 4), Column("c", 8))
    division = parse("a / b / c")
    assert isinstance(division, Binary) and isinstance(division.left, Binary)


def test_comparison_has_the_lowest_precedence() -> None:
    node = parse("a + 1 == b * 2")
    assert isinstance(node, Binary) and node.op == "=="
    assert isinstance(node.left, Binary) and node.left.op == "+"
    assert isinstance(node.right, Binary) and node.right.op == "*"


def test_unary_minus_binds_tighter_than_multiplication() -> None:
    node = parse("-a * b")
    assert node == Binary("*", Negate(Column("a", 1), 0), Column("b", 5), 3)


def test_negative_number_literals_are_folded() -> None:
    assert parse("-3") == Literal(-3, 0)
    assert parse("-2.5") == Literal(-2.5, 0)
    assert parse("--3") == Literal(3, 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [("42", 42), ("3.25", 3.25), ("true", True), ("FALSE", False), ("Null", None), ("'x'", "x")],
)
def test_literals(text: str, value: object) -> None:
    node = parse(text)
    assert isinstance(node, Literal)
    assert node.value == value and type(node.value) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'it\\'s'", "it's"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'back\\\\slash'", "back\\slash"),
        ("'tab\\tnew\\nline\\r'", "tab\tnew\nline\r"),
        ('"single \' inside"', "single ' inside"),
        ("'double \" inside'", 'double " inside'),
        ("''", ""),
    ],
)
def test_string_quotes_and_escapes(text: str, value: str) -> None:
    assert parse(text) == Literal(value, 0)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("`First Name`", "First Name"),
        ("`e-mail (home)`", "e-mail (home)"),
        ("`tick\\`name`", "tick`name"),
        ("first_name", "first_name"),
        ("address.city", "address.city"),
        ("prénom", "prénom"),
    ],
)
def test_column_references(text: str, name: str) -> None:
    assert parse(text) == Column(name, 0)


def test_function_calls_nest_and_take_any_expression() -> None:
    node = parse("concat(lower(`First Name`), ' ', 1 + 2)")
    assert isinstance(node, Call) and node.name == "concat" and len(node.args) == 3
    assert node.args[0] == Call("lower", (Column("First Name", 13),), 7)
    assert isinstance(node.args[2], Binary)


def test_keywords_followed_by_parenthesis_are_function_names() -> None:
    assert parse("if(a, 1, 2)") == Call("if", (Column("a", 3), Literal(1, 6), Literal(2, 9)), 0)


def test_tokens_record_their_offsets() -> None:
    tokens = tokenize("lower( `a b` )")
    assert [(t.kind, t.pos) for t in tokens] == [
        ("name", 0),
        ("punct", 5),
        ("quoted", 7),
        ("punct", 13),
        ("end", 14),
    ]


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("lower(trim(email)", 18, "expected ')'"),
        ("lower(a b)", 9, "expected ',' or ')', found 'b'"),
        ("(a + b", 7, "expected ')'"),
        ("(a b)", 4, "expected an operator or ')', found 'b'"),
        ("a +", 4, "expected a value"),
        ("a + * b", 5, "expected a value (a column, a literal or a function call), found '*'"),
        ("a b", 3, "expected an operator or the end of the expression, found 'b'"),
        ("lower(", 7, "expected an argument or ')'"),
        ("f(,)", 3, "found ','"),
        ("'abc", 1, "unterminated string (no closing ')"),
        ('x + "abc', 5, "unterminated string"),
        ("`abc", 1, "unterminated column name"),
        ("a + ``", 5, "empty column name"),
        ("'a\\qb'", 3, "unknown escape '\\q'"),
        ("a = b", 3, "expected '=='"),
        ("a ! b", 3, "expected '!='"),
        ("a # b", 3, "unexpected character '#'"),
        ("1. + 2", 3, "expected a digit after '.'"),
        ("", 1, "empty expression"),
        ("a < b < c", 7, "comparisons cannot be chained"),
        ("true(1)", 1, "unknown function 'true'"),
    ],
)
def test_parse_errors_give_the_character_position(text: str, position: int, detail: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    error = caught.value
    assert error.position == position
    assert f"{text} at character {position}: " in error.user_message
    assert detail in error.user_message


def test_the_example_message_from_the_docs() -> None:
    with pytest.raises(ExpressionError, match=r"^lower\(trim\(email\) at character 18: expected '\)'$"):
        compile_expression("lower(trim(email)")


def test_expression_errors_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError) as caught:
        compile_expression("lower(")
    assert caught.value.code == "expression"


# --- checks ---------------------------------------------------------------------------------------


def test_unknown_function_suggests_close_matches() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("x + lowr(a)")
    assert caught.value.position == 5
    assert caught.value.detail == "unknown function 'lowr'; did you mean 'lower'?"


def test_unknown_function_without_close_match_lists_all_functions() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("xyzzy(a)")
    listed = caught.value.detail.split("available functions: ")[1].split(", ")
    assert listed == sorted(FUNCTIONS)


def test_function_names_ignore_case() -> None:
    frame = pd.DataFrame({"a": ["Ab"]})
    assert values("LOWER(a)", frame) == ["ab"]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("lower(a, b)", "lower takes 1 argument, got 2; usage: lower(text)"),
        ("substr(a)", "substr takes 2 to 3 arguments, got 1; usage: substr(text, start[, length])"),
        ("concat()", "concat takes at least 1 argument, got 0; usage: concat(value, ...)"),
        ("if(a, b)", "if takes 3 arguments, got 2; usage: if(condition, then, else)"),
    ],
)
def test_wrong_argument_count_shows_the_signature(text: str, detail: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.detail == detail
    assert caught.value.position == 1


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("substr(a, 0, 2)", 11, "argument 2 of substr must be a whole number of at least 1"),
        ("substr(a, b, 2)", 11, "argument 2 of substr must be a whole number of at least 1"),
        ("substr(a, 1, -1)", 14, "argument 3 of substr must be a whole number of at least 0"),
        ("replace(a, '', 'x')", 12, "argument 2 of replace must be a non-empty string"),
        ("to_date(a, 'nope')", 12, "argument 2 of to_date must be a date format"),
        ("to_timestamp(a, '%Q')", 17, "argument 2 of to_timestamp must be a date format"),
    ],
)
def test_constant_arguments_are_checked_at_compile_time(text: str, position: int, detail: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.position == position
    assert caught.value.detail.startswith(detail)


def test_unknown_column_names_it_and_lists_the_available_ones() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("lower(emial)", ["email", "first_name"])
    assert caught.value.position == 7
    assert caught.value.detail == (
        "unknown column 'emial' (did you mean 'email'?); available columns: email, first_name"
    )


def test_columns_are_checked_on_evaluation_when_unknown_at_compile_time() -> None:
    expression = compile_expression("lower(email)")
    assert expression.columns == frozenset({"email"})
    message = r"unknown column 'email' \(did you mean 'mail'\?\); available columns: mail$"
    with pytest.raises(ExpressionError, match=message):
        expression.evaluate(pd.DataFrame({"mail": ["x"]}))


def test_referenced_columns_are_collected() -> None:
    expression = compile_expression("concat(a, `b c`, lower(a), 'lit')")
    assert expression.columns == frozenset({"a", "b c"})


# --- functions ------------------------------------------------------------------------------------

TEXT = pd.DataFrame(
    {
        "s": ["  Ann ", "BOB", None, "", "a,b,a"],
        "t": ["x", None, None, "y", "z"],
        "n": ["1", "2.0", None, "x", "1e3"],
    }
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("lower(s)", ["  ann ", "bob", None, None, "a,b,a"]),
        ("upper(s)", ["  ANN ", "BOB", None, None, "A,B,A"]),
        ("trim(s)", ["Ann", "BOB", None, None, "a,b,a"]),
        ("concat(s, '-', t)", ["  Ann -x", "BOB-", "-", "-y", "a,b,a-z"]),
        ("concat(s, t)", ["  Ann x", "BOB", None, "y", "a,b,az"]),
        ("coalesce(s, t, 'none')", ["  Ann ", "BOB", "none", "y", "a,b,a"]),
        ("coalesce(t, s)", ["x", "BOB", None, "y", "z"]),
        ("is_null(s)", [False, False, True, True, False]),
        ("is_null(t)", [False, True, True, False, False]),
        ("substr(s, 3, 3)", ["Ann", "B", None, None, "b,a"]),
        ("substr(s, 2)", [" Ann ", "OB", None, None, ",b,a"]),
        ("replace(s, 'a', 'A')", ["  Ann ", "BOB", None, None, "A,b,A"]),
        ("if(is_null(t), 'missing', t)", ["x", "missing", "missing", "y", "z"]),
        ("if(t == 'y', 1, 0)", [0, 0, 0, 1, 0]),
        ("to_int(n)", [1, 2, None, None, 1000]),
        ("to_float(n)", [1.0, 2.0, None, None, 1000.0]),
    ],
)
def test_functions_on_columns_with_nulls(expression: str, expected: list) -> None:
    assert values(expression, TEXT) == expected


def test_blank_source_text_reads_as_null() -> None:
    frame = pd.DataFrame({"s": ["", "   ", "x"]})
    assert values("coalesce(s, 'default')", frame) == ["default", "default", "x"]


def test_to_date_and_to_timestamp_parse_iso_common_forms_and_formats() -> None:
    frame = pd.DataFrame(
        {
            "d": ["2024-01-05", "Jan 6 2024", "2024-01-07T23:30:00-02:00", None],
            "eu": ["05/01/2024", "31/12/1999", None, "1/2/2003"],
            "epoch": [1700000000, None, 0, 86400],
        }
    )
    dates = evaluate("to_date(d)", frame).values
    assert str(dates.dtype) == "datetime64[s]"
    assert dates.tolist()[:3] == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-01-06"),
        pd.Timestamp("2024-01-08"),
    ]
    assert pd.isna(dates.iloc[3])
    assert values("to_date(eu, '%d/%m/%Y')", frame) == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("1999-12-31"),
        None,
        pd.Timestamp("2003-02-01"),
    ]
    stamps = evaluate("to_timestamp(d)", frame).values
    assert str(stamps.dtype) == "datetime64[us, UTC]"
    assert stamps.iloc[2] == pd.Timestamp("2024-01-08T01:30:00Z")
    assert values("to_timestamp(epoch, 'unix')", frame) == [
        pd.Timestamp("2023-11-14T22:13:20Z"),
        None,
        pd.Timestamp("1970-01-01T00:00:00Z"),
        pd.Timestamp("1970-01-02T00:00:00Z"),
    ]


def test_literals_are_broadcast_to_every_row() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]}, index=[7, 8, 9])
    result = evaluate("'x'", frame).values
    assert result.tolist() == ["x", "x", "x"]
    assert list(result.index) == [7, 8, 9]


# --- operators ------------------------------------------------------------------------------------

NUMBERS = pd.DataFrame({"a": ["1", "2", "x", None, "6"], "b": [2, 0, 1, 1, 3]})


def test_arithmetic_reads_text_as_numbers() -> None:
    assert values("a + b", NUMBERS) == [3.0, 2.0, None, None, 9.0]
    assert values("a * 2 - 1", NUMBERS) == [1.0, 3.0, None, None, 11.0]


def test_integer_arithmetic_stays_integer_and_division_is_decimal() -> None:
    assert str(evaluate("b * 2 + 1", NUMBERS).values.dtype) == "Int64"
    assert values("-b", NUMBERS) == [-2, 0, -1, -1, -3]
    assert str(evaluate("b / 2", NUMBERS).values.dtype) == "Float64"
    assert values("b / 2", NUMBERS) == [1.0, 0.0, 0.5, 0.5, 1.5]


def test_comparisons_pick_numbers_dates_or_text() -> None:
    assert values("a > 1", NUMBERS) == [False, True, None, None, True]
    assert values("b == 1", NUMBERS) == [False, False, True, True, False]
    frame = pd.DataFrame({"s": ["b", "a", None], "d": ["2024-01-05", "2023-01-01", "2024-02-01"]})
    assert values("s >= 'b'", frame) == [True, False, None]
    assert values("s != 'b'", frame) == [False, True, None]
    assert values("to_date(d) < to_date('2024-01-10')", frame) == [True, True, False]
    result = evaluate("s == 'a'", frame).values
    assert str(result.dtype) == "boolean"


# --- row failures ---------------------------------------------------------------------------------


def test_division_by_zero_fails_the_row_without_raising() -> None:
    result = evaluate("b / (b - 1)", NUMBERS)
    assert result.failed.tolist() == [False, False, True, True, False]
    assert result.reasons is not None
    assert result.reasons.tolist()[2:4] == ["division by zero", "division by zero"]
    assert [None if pd.isna(v) else v for v in result.values] == [2.0, 0.0, None, None, 1.5]


@pytest.mark.parametrize(
    ("expression", "failed_rows", "reason"),
    [
        ("to_int(v)", [1, 2], "to_int: '2.5' is not an integer"),
        ("to_float(v)", [1], "to_float: 'abc' is not a number"),
        ("to_date(v)", [0, 1, 2], "to_date: '7' is not a date"),
        ("to_timestamp(v)", [0, 1, 2], "to_timestamp: 'abc' is not a timestamp"),
        ("v + 1", [1], "'abc' is not a number"),
    ],
)
def test_conversion_failures_are_flagged_with_reasons(
    expression: str, failed_rows: list, reason: str
) -> None:
    frame = pd.DataFrame({"v": ["7", "abc", "2.5", None, ""]}, index=list("pqrst"))
    result = evaluate(expression, frame)
    assert [i for i, failed in enumerate(result.failed) if failed] == failed_rows
    assert result.reasons is not None
    assert reason in result.reasons.dropna().tolist()
    # Failed rows carry no value; null and blank input is not a failure.
    assert result.values.iloc[failed_rows].isna().all()
    assert result.reasons.iloc[3:].isna().all()


def test_a_failure_inside_an_argument_fails_the_whole_row() -> None:
    frame = pd.DataFrame({"v": ["1", "bad", None]})
    result = evaluate("coalesce(to_int(v), 0)", frame)
    assert [None if pd.isna(v) else v for v in result.values] == [1, None, 0]
    assert result.failed.tolist() == [False, True, False]
    assert result.reasons is not None and result.reasons.iloc[1] == "to_int: 'bad' is not an integer"


def test_long_values_are_cut_in_reasons() -> None:
    frame = pd.DataFrame({"v": ["x" * 200]})
    result = evaluate("to_int(v)", frame)
    assert result.reasons is not None
    reason = result.reasons.iloc[0]
    assert reason == "to_int: '" + "x" * 57 + "...' is not an integer"


def test_evaluation_handles_duplicate_index_labels() -> None:
    frame = pd.DataFrame({"v": ["1", "x", "-2"], "d": ["2024-01-05", None, "2024-01-06"]}, index=[5, 5, 6])
    result = evaluate("if(to_int(v) > 0, 'pos', concat('neg ', to_date(d)))", frame)
    assert list(result.values.index) == [5, 5, 6]
    assert result.failed.tolist() == [False, True, False]
    assert [None if pd.isna(v) else v for v in result.values] == ["pos", None, "neg 2024-01-06"]


# --- registry -------------------------------------------------------------------------------------


def test_registry_documents_every_function() -> None:
    required = {
        "lower", "upper", "trim", "concat", "to_int", "to_float", "to_date", "to_timestamp",
        "coalesce", "if", "is_null", "substr", "replace",
    }  # fmt: skip
    assert required <= set(FUNCTIONS)
    for spec in FUNCTIONS.values():
        assert spec.signature.startswith(spec.name + "(")
        assert spec.doc and spec.example
        compile_expression(spec.example)  # every example must itself be valid
    reference = function_reference()
    assert all(f"`{spec.signature}`" in reference for spec in FUNCTIONS.values())


def test_arity_comes_from_the_python_signature() -> None:
    assert (FUNCTIONS["lower"].min_args, FUNCTIONS["lower"].max_args) == (1, 1)
    assert (FUNCTIONS["to_date"].min_args, FUNCTIONS["to_date"].max_args) == (1, 3)
    assert (FUNCTIONS["concat"].min_args, FUNCTIONS["concat"].max_args) == (1, None)
    assert set(FUNCTIONS["substr"].constants) == {1, 2}


def test_register_adds_a_callable_function() -> None:
    @register("twice", signature="twice(text)", doc="Repeats text.", example="twice(a)")
    def _twice(text: pd.Series) -> pd.Series:
        return text + text

    try:
        assert values("twice(a)", pd.DataFrame({"a": ["ab", None]})) == ["abab", None]
    finally:
        del FUNCTIONS["twice"]


# --- every function's example, and the generated docs -----------------------------------------------

#: A small frame with the columns the documented examples use, holding plausible values.
PLAUSIBLE = pd.DataFrame(
    {
        "email": [" Ann.Lee@Example.COM", "bob@example.org"],
        "country": ["UK", "Deutschland"],
        "first_name": [" Ann ", "Bob"],
        "last_name": ["Lee", "Stone"],
        "full_name": ["Ann Lee", "Bob Stone"],
        "postcode": ["SW1A 1AA", "10115"],
        "phone": ["07911 123456", "+49 30 901820"],
        "mobile": [None, "+44 7911 123456"],
        "home_phone": ["020 7946 0958", None],
        "points": ["120", "1500"],
        "total": ["19.995", "-3.5"],
        "balance": [-12, 40],
        "dob": ["05/01/1990", "31/12/1985"],
        "created": ["05/01/2024 09:30", "31/03/2024 14:00"],
        "signup": ["2024-01-31", "2024-02-29"],
        "first_order": ["2024-01-01", "2023-06-30T12:00:00Z"],
        "last_order": ["2024-03-01", "2024-06-30T12:00:00Z"],
        "customer_id": [42, 7],
        "source_system": ["crm", "crm"],
        "opt_in": ["yes", "N"],
        "attributes": ['{"address": {"city": "Lyon"}}', '{"address": {"city": "Berlin"}}'],
    }
)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_example_compiles_and_evaluates_without_failures(name: str) -> None:
    spec = FUNCTIONS[name]
    expression = compile_expression(spec.example, list(PLAUSIBLE.columns))
    assert any(isinstance(node, Call) and node.name == name for node in walk(expression.node))
    result = expression.evaluate(PLAUSIBLE)
    assert not result.failed.any(), (spec.example, result.reasons)
    assert result.values.notna().any()


def test_every_function_has_a_documented_family_and_a_one_line_doc() -> None:
    for spec in FUNCTIONS.values():
        assert spec.family in FAMILIES and spec.family != "other", spec.name
        assert "\n" not in spec.doc and spec.doc.endswith("."), spec.name


def test_the_reference_is_grouped_by_family_in_order() -> None:
    reference = function_reference()
    headings = [line[3:] for line in reference.splitlines() if line.startswith("## ")]
    used = {spec.family for spec in FUNCTIONS.values()}
    assert headings == [title for family, title in FAMILIES.items() if family in used]
    text_part = reference.split("## Hashing")[0]
    assert "`split(text, separator, part)`" in text_part and "`sha256(text)`" not in text_part
    assert "regex_extract(email, '@(.+)$')" in reference


def test_the_docs_page_is_the_generated_reference() -> None:
    # Regenerate with: python -m core.mapping.functions
    assert REFERENCE_PATH.read_text(encoding="utf-8") == reference_page()


def test_register_refuses_an_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown function family 'misc'"):
        register("x", family="misc", signature="x()", doc="X.", example="x()")


# --- grammar additions ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["a AND b", "a And b", "a and b"])
def test_word_operators_ignore_case(text: str) -> None:
    assert parse(text) == Binary("and", Column("a", 0), Column("b", len(text) - 1), 2)


def test_walk_visits_nodes_depth_first_left_to_right() -> None:
    node = parse("f(a, b + c) in (d)")
    names = [n.name for n in walk(node) if isinstance(n, Column | Call)]
    assert names == ["f", "a", "b", "c", "d"]
