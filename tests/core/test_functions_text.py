"""Tests of the text, hashing and JSON functions of the expression language."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from tests.core.test_expressions import compile_error, evaluate, values

WORDS = pd.DataFrame(
    {
        "s": ["a,b,c", None, "", "Ünï,cödé", "solo"],
        "n": pd.array([12, 7, None, 123456, 0], dtype="Int64"),
    }
)


# --- split ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("split(s, ',', 1)", ["a", None, None, "Ünï", "solo"]),
        ("split(s, ',', 2)", ["b", None, None, "cödé", None]),
        ("split(s, ',', 3)", ["c", None, None, None, None]),
        ("split(s, ',', -1)", ["c", None, None, "cödé", "solo"]),
        ("split(s, ',', -3)", ["a", None, None, None, None]),
        ("split(s, 'ï,c', 2)", [None, None, None, "ödé", None]),
        ("split('a--b--c', '--', 2)", ["b"] * 5),
        ("split('', ',', 1)", [""] * 5),
    ],
)
def test_split_takes_one_based_parts_and_nulls_past_the_end(expression: str, expected: list) -> None:
    assert values(expression, WORDS) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("split(s, ',', 0)", "argument 3 of split must be a whole number other than 0"),
        ("split(s, '', 1)", "argument 2 of split must be a non-empty string"),
        ("split(s, n, 1)", "argument 2 of split must be a non-empty string"),
    ],
)
def test_split_checks_its_constants(text: str, detail: str) -> None:
    error = compile_error(text)
    assert error.detail.startswith(detail)
    assert error.detail.endswith("usage: split(text, separator, part)")


# --- regular expressions ------------------------------------------------------------------------------

MAILS = pd.DataFrame({"e": ["ann@example.com", "BOB@Mail.Example.org", "no at sign", None, "ünï@dömain.de"]})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("regex_extract(e, '@(.+)$')", ["example.com", "Mail.Example.org", None, None, "dömain.de"]),
        ("regex_extract(e, '^(\\\\w+)@(\\\\w+)', 2)", ["example", "Mail", None, None, "dömain"]),
        ("regex_extract(e, '[a-z]+')", ["ann", "ail", "no", None, "n"]),
        ("regex_extract(e, '(?i)[a-z]+@')", ["ann@", "BOB@", None, None, None]),
        ("regex_extract(e, '(\\\\w)(\\\\w)', 0)", ["an", "BO", "no", None, "ün"]),
        ("regex_extract(e, '(?P<user>[^@]+)@')", ["ann", "BOB", None, None, "ünï"]),
    ],
)
def test_regex_extract_returns_a_group_or_the_whole_match(expression: str, expected: list) -> None:
    assert values(expression, MAILS) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("regex_replace(e, '[aeiou]', '')", ["nn@xmpl.cm", "BOB@Ml.Exmpl.rg", "n t sgn", None, "ünï@dömn.d"]),
        (
            "regex_replace(e, '^([^@]+)@(.+)$', '$2/$1')",
            ["example.com/ann", "Mail.Example.org/BOB", "no at sign", None, "dömain.de/ünï"],
        ),
        ("regex_replace(e, '(?P<u>^[^@]+)@.*', '${u}$$')", ["ann$", "BOB$", "no at sign", None, "ünï$"]),
        (
            "regex_replace(e, '@', '$0$0')",
            ["ann@@example.com", "BOB@@Mail.Example.org", "no at sign", None, "ünï@@dömain.de"],
        ),
        (
            "regex_replace(e, '^(a)', '$10${1}1')",
            ["a0a1nn@example.com", "BOB@Mail.Example.org", "no at sign", None, "ünï@dömain.de"],
        ),
        (
            "regex_replace(e, ' ', '\\\\n')",
            ["ann@example.com", "BOB@Mail.Example.org", "no\\nat\\nsign", None, "ünï@dömain.de"],
        ),
    ],
)
def test_regex_replace_uses_dollar_groups_and_keeps_backslashes_literal(
    expression: str, expected: list
) -> None:
    assert values(expression, MAILS) == expected


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("regex_extract(e, '([a-z]')", 18, "argument 2 of regex_extract must be a regular expression"),
        ("regex_extract(e, '')", 18, "argument 2 of regex_extract must be a regular expression"),
        (
            "regex_extract(e, '(a)(b)', 3)",
            28,
            "argument 3 of regex_extract must be a group of the pattern, which has 2 groups",
        ),
        ("regex_extract(e, 'ab', 1)", 24, "which has no groups"),
        (
            "regex_replace(e, '(a)', '$2')",
            25,
            "argument 3 of regex_replace must be text whose $ references "
            "are groups of the pattern (no group 2)",
        ),
        ("regex_replace(e, '(a)', '${x}')", 25, "(no group x)"),
        ("regex_replace(e, e, 'x')", 18, "argument 2 of regex_replace must be a regular expression"),
    ],
)
def test_regex_arguments_are_checked_at_compile_time(text: str, position: int, detail: str) -> None:
    error = compile_error(text)
    assert error.position == position
    assert detail in error.detail


# --- pad and length -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("pad(n, 5, '0')", ["00012", "00007", None, "123456", "00000"]),
        ("pad(s, 6)", [" a,b,c", None, None, "Ünï,cödé", "  solo"]),
        ("pad(s, 6, '·', 'right')", ["a,b,c·", None, None, "Ünï,cödé", "solo··"]),
        ("pad(s, 6, '-', 'LEFT')", ["-a,b,c", None, None, "Ünï,cödé", "--solo"]),
        ("pad(s, 0)", ["a,b,c", None, None, "Ünï,cödé", "solo"]),
        ("length(s)", [5, None, None, 8, 4]),
        ("length(n)", [2, 1, None, 6, 1]),
        ("length('')", [0] * 5),
    ],
)
def test_pad_and_length_count_characters_not_bytes(expression: str, expected: list) -> None:
    assert values(expression, WORDS) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (
            "pad(s, -1)",
            "argument 2 of pad must be a whole number of at least 0; "
            "usage: pad(text, length[, fill[, side]])",
        ),
        ("pad(s, 5, '00')", "argument 3 of pad must be a single character"),
        ("pad(s, 5, '0', 'middle')", "argument 4 of pad must be one of 'left', 'right'"),
        ("pad(s, n)", "argument 2 of pad must be a whole number of at least 0"),
    ],
)
def test_pad_checks_its_constants(text: str, detail: str) -> None:
    error = compile_error(text)
    assert error.detail.startswith(detail)


def test_case_functions_handle_unicode() -> None:
    frame = pd.DataFrame({"s": ["Ärger", "ñandú", "ÉCOLE", None]})
    assert values("upper(s)", frame) == ["ÄRGER", "ÑANDÚ", "ÉCOLE", None]
    assert values("lower(s)", frame) == ["ärger", "ñandú", "école", None]


# --- hashing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_hashes_are_hex_of_utf8_and_nulls_stay_null(algorithm: str) -> None:
    texts = ["ann@example.com", "ünïcödé", None, "ann@example.com", "", "Ann@example.com"]
    frame = pd.DataFrame({"e": texts})

    def expected(text: str | None) -> str | None:
        if text is None or text == "":  # a blank source value reads as null
            return None
        return hashlib.new(algorithm, text.encode("utf-8")).hexdigest()

    assert values(f"{algorithm}(e)", frame) == [expected(t) for t in texts]
    assert values(f"{algorithm}('')", frame)[0] == hashlib.new(algorithm, b"").hexdigest()


def test_hashes_of_numbers_hash_their_text() -> None:
    frame = pd.DataFrame({"n": [42, None]}, dtype="Int64")
    assert values("sha256(n)", frame) == [hashlib.sha256(b"42").hexdigest(), None]


def test_hashing_runs_once_per_distinct_value(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hashlib.new

    def counting(name: str, data: bytes = b"") -> object:
        calls.append(data)
        return real(name, data)

    monkeypatch.setattr(hashlib, "new", counting)
    frame = pd.DataFrame({"e": ["a", "b", "a", None, "b", "a"] * 100})
    result = values("sha256(e)", frame)
    assert sorted(calls) == [b"a", b"b"]
    assert result[0] == real("sha256", b"a").hexdigest()


# --- JSON ---------------------------------------------------------------------------------------------

DOCUMENTS = pd.DataFrame(
    {
        "j": [
            '{"address": {"city": "Lyon", "zip": 69001}, "tags": ["vip", "eu"], "ok": true}',
            '{"address": {"city": null}, "tags": []}',
            "not json",
            None,
            '{"address": "flat", "tags": ["x"], "ü": {"ö": "é"}}',
            "[1, [2, 3]]",
        ]
    }
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("address.city", ["Lyon", None, None, None, None, None]),
        ("address.zip", ["69001", None, None, None, None, None]),
        ("address", ['{"city":"Lyon","zip":69001}', '{"city":null}', None, None, "flat", None]),
        ("tags[0]", ["vip", None, None, None, "x", None]),
        ("tags[-1]", ["eu", None, None, None, "x", None]),
        ("tags[5]", [None] * 6),
        ("tags", ['["vip","eu"]', "[]", None, None, '["x"]', None]),
        ("ok", ["true", None, None, None, None, None]),
        ("ü.ö", [None, None, None, None, "é", None]),
        ("[1][0]", [None, None, None, None, None, "2"]),
        ("missing.deeper[0]", [None] * 6),
    ],
)
def test_json_get_follows_dotted_paths_and_indexes(path: str, expected: list) -> None:
    result = evaluate(f"json_get(j, '{path}')", DOCUMENTS)
    assert [None if pd.isna(v) else v for v in result.values] == expected
    assert result.failed.tolist() == [False, False, True, False, False, False]
    assert result.reasons is not None and result.reasons.iloc[2] == "json_get: 'not json' is not valid JSON"


def test_json_get_reads_documents_already_parsed_by_a_source() -> None:
    frame = pd.DataFrame({"j": [{"a": {"b": 1}}, None, ["x"], '{"a": {"b": 2}}']})
    assert values("json_get(j, 'a.b')", frame) == ["1", None, None, "2"]


@pytest.mark.parametrize("path", ["", "a..b", "a[x]", "a[1", ".a", "a."])
def test_json_get_refuses_malformed_paths(path: str) -> None:
    error = compile_error(f"json_get(j, '{path}')")
    assert "argument 2 of json_get must be a path" in error.detail
