"""`shared.expressions`: plain substitution, secrets left for the delegate, `$${` escapes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.expressions import (
    ExpressionError,
    check_names,
    escape,
    find_expressions,
    is_known_name,
    is_secret_name,
    render,
    secret_names,
)

CONTEXT = {"app.name": "shop", "env.name": "dev", "workflow.variables.suffix": "blue"}


def test_render_substitutes_known_names() -> None:
    assert render("${app.name}-${env.name}-${workflow.variables.suffix}", CONTEXT) == "shop-dev-blue"
    assert render("no expressions, $5 and a lone $", CONTEXT) == "no expressions, $5 and a lone $"


def test_unknown_name_is_an_error_naming_it() -> None:
    with pytest.raises(ExpressionError) as info:
        render("${app.name}-${env.type}", CONTEXT)
    assert info.value.name == "env.type"
    assert "${env.type}" in str(info.value)
    with pytest.raises(ExpressionError) as info:
        render("${workflow.variables.colour}", CONTEXT)
    assert info.value.name == "workflow.variables.colour"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("${app.name", "unterminated expression"),
        ("${}", "unknown expression ${}"),
        ("${ app.name }", "unknown expression ${ app.name }"),
        ("${app.name.upper()}", "unknown expression ${app.name.upper()}"),
        ("${workflow.variables.a-b}", "invalid expression ${workflow.variables.a-b}"),
        ("${secrets.}", "invalid secret reference ${secrets.}"),
        ("${secrets.a b}", "invalid secret reference"),
    ],
)
def test_malformed_expressions(text: str, problem: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(problem)):
        find_expressions(text)


def test_no_nested_evaluation() -> None:
    context = {"app.name": "${env.name}", "env.name": "dev"}
    assert render("${app.name}", context, allow_secrets=False) == "${env.name}"


def test_secrets_are_left_verbatim_or_refused() -> None:
    assert render("pw=${secrets.db/password}", CONTEXT) == "pw=${secrets.db/password}"
    with pytest.raises(ExpressionError, match="only in environment values") as info:
        render("${secrets.token}", CONTEXT, allow_secrets=False)
    assert info.value.name == "secrets.token"


def test_escape_gives_a_literal() -> None:
    assert render("$${app.name} is ${app.name}", CONTEXT, allow_secrets=False) == "${app.name} is shop"
    assert render("$$${app.name}", CONTEXT, allow_secrets=False) == "$${app.name}"
    assert render("$${secrets.x}", CONTEXT, allow_secrets=False) == "${secrets.x}"


@pytest.mark.parametrize(
    ("template", "context", "problem"),
    [
        ("$${secrets.x}", {}, "a literal '${secrets.' (written $${secrets.) cannot be used here"),
        ("${app.name}", {"app.name": "${secrets.admin}"}, "the value of ${app.name} contains '${secrets.'"),
        ("${app.name}{secrets.admin}", {"app.name": "x$"}, "renders to text containing a '${secrets.'"),
    ],
)
def test_text_for_the_delegate_never_gains_a_secret_reference(
    template: str, context: dict[str, str], problem: str
) -> None:
    # The delegate resolves every `${secrets.NAME}` it sees, so only references written as such may reach it.
    with pytest.raises(ExpressionError, match=re.escape(problem)):
        render(template, context, allow_secrets=True)
    render(template, context, allow_secrets=False)  # final text: a literal is fine


def test_find_expressions_and_secret_names() -> None:
    text = "${app.name}:${secrets.a}:$${env.name}:${secrets.b}:${secrets.a}"
    assert find_expressions(text) == ["app.name", "secrets.a", "secrets.b", "secrets.a"]
    assert secret_names(text) == ["a", "b"]
    assert secret_names("$${secrets.a}") == []


@pytest.mark.parametrize("name", ["db-password", "prod/db.password", "/prod/db", "a_b"])
def test_secret_names_accepted(name: str) -> None:
    assert is_secret_name(name)
    assert find_expressions(f"${{secrets.{name}}}") == [f"secrets.{name}"]


@pytest.mark.parametrize("name", ["", "a b", "a+b", "prod/../etc", "..", "x" * 513])
def test_secret_names_rejected(name: str) -> None:
    assert not is_secret_name(name)


def test_check_names_limits_a_field_to_its_scope() -> None:
    allowed = frozenset({"app.name"})
    check_names("${app.name}-${workflow.variables.x}-${secrets.y}", allowed, allow_secrets=True)
    check_names("$${secrets.y}", allowed, allow_secrets=False)
    with pytest.raises(ExpressionError, match="cannot be used here"):
        check_names("$${secrets.y}", allowed, allow_secrets=True)
    with pytest.raises(ExpressionError, match=r"\$\{execution.id\} is not available here"):
        check_names("${execution.id}", allowed, allow_secrets=True)
    with pytest.raises(ExpressionError, match="only in environment values"):
        check_names("${secrets.y}", allowed, allow_secrets=False)


def test_is_known_name() -> None:
    assert is_known_name("infra.region")
    assert is_known_name("workflow.variables.x")
    assert is_known_name("secrets.prod/db")
    assert not is_known_name("infra.zone")


# Text built from the pieces that matter to the scanner, so expressions and near-misses are common.
_PIECES = ["$", "{", "}", "${", "$${", "secrets.", "k", "${app.name}", "${secrets.k}", "${secrets.a/b}", " "]
_TRICKY = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


# What the delegate's resolver looks for (delegate/secrets/resolver.py).
_DELEGATE_REFERENCE = re.compile(r"\$\{secrets\.([^}]*)\}")


@settings(database=None)  # unit tests write no files
@given(_TRICKY)
def test_escape_round_trips_any_text(text: str) -> None:
    assert render(escape(text), {}, allow_secrets=False) == text
    if "${secrets." in text:
        with pytest.raises(ExpressionError):
            render(escape(text), {}, allow_secrets=True)
    else:
        assert render(escape(text), {}, allow_secrets=True) == text


@settings(database=None)  # unit tests write no files
@given(template=_TRICKY, value=_TRICKY)
def test_the_delegate_sees_exactly_the_secret_references_written(template: str, value: str) -> None:
    try:
        rendered = render(template, {"app.name": value}, allow_secrets=True)
    except ExpressionError:
        return
    written = [name for name in find_expressions(template) if name.startswith("secrets.")]
    assert ["secrets." + name for name in _DELEGATE_REFERENCE.findall(rendered)] == written


@settings(database=None)  # unit tests write no files
@given(_TRICKY)
def test_a_substituted_value_is_inserted_unchanged_or_refused(value: str) -> None:
    if "${secrets." in value:
        with pytest.raises(ExpressionError, match="contains"):
            render("<${app.name}>", {"app.name": value})
    else:
        assert render("<${app.name}>", {"app.name": value}) == f"<{value}>"
