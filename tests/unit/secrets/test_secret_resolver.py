"""SecretResolver: lookup order, each source, refused names, errors without values, rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from delegate.secrets import (
    MASK,
    InvalidSecretName,
    Masker,
    SecretNotFound,
    SecretResolver,
    SecretUnavailable,
    env_var_name,
    names_in,
)


class FakeStore:
    """A hand-written SecretStore: two dicts, a call log, and optional failures."""

    def __init__(
        self,
        secrets: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        fail_with: Exception | None = None,
    ) -> None:
        self.secrets = secrets or {}
        self.parameters = parameters or {}
        self.fail_with = fail_with
        self.calls: list[tuple[str, str]] = []

    def get_secret_value(self, name: str) -> str | None:
        self.calls.append(("secretsmanager", name))
        if self.fail_with is not None:
            raise self.fail_with
        return self.secrets.get(name)

    def get_parameter(self, name: str) -> str | None:
        self.calls.append(("ssm", name))
        return self.parameters.get(name)


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    return directory


def resolver(
    env: dict[str, str] | None = None,
    secrets_dir: Path | None = None,
    aws: FakeStore | None = None,
    masker: Masker | None = None,
) -> SecretResolver:
    return SecretResolver(env or {}, secrets_dir, aws, Masker() if masker is None else masker)


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("db-password", "OUTRIDER_SECRET_DB_PASSWORD"),
        ("prod/db.pass", "OUTRIDER_SECRET_PROD_DB_PASS"),
        ("/outrider/Token_1", "OUTRIDER_SECRET__OUTRIDER_TOKEN_1"),
    ],
)
def test_env_var_name(name: str, variable: str) -> None:
    assert env_var_name(name) == variable


def test_env_wins_over_file_and_aws(secrets_dir: Path) -> None:
    (secrets_dir / "db-password").write_text("from-file\n")
    store = FakeStore(secrets={"db-password": "from-sm"}, parameters={"db-password": "from-ssm"})
    found = resolver({"OUTRIDER_SECRET_DB_PASSWORD": "from-env"}, secrets_dir, store).resolve("db-password")
    assert found == "from-env"
    assert store.calls == []


def test_file_wins_over_aws_and_strips_one_newline(secrets_dir: Path) -> None:
    (secrets_dir / "db-password").write_text("from-file\n\n")
    (secrets_dir / "crlf").write_bytes(b"windows\r\n")
    store = FakeStore(secrets={"db-password": "from-sm"})
    r = resolver({}, secrets_dir, store)
    assert r.resolve("db-password") == "from-file\n"
    assert r.resolve("crlf") == "windows"
    assert store.calls == []


def test_secrets_manager_then_ssm(secrets_dir: Path) -> None:
    store = FakeStore(secrets={"sm-one": "from-sm"}, parameters={"sm-one": "from-ssm", "ssm-one": "p"})
    r = resolver({}, secrets_dir, store)
    assert r.resolve("sm-one") == "from-sm"
    assert r.resolve("ssm-one") == "p"
    assert store.calls == [("secretsmanager", "sm-one"), ("secretsmanager", "ssm-one"), ("ssm", "ssm-one")]


def test_hierarchical_names_skip_the_file_source(secrets_dir: Path) -> None:
    (secrets_dir / "prod").mkdir()
    (secrets_dir / "prod" / "db").write_text("from-file")
    store = FakeStore(secrets={"prod/db": "from-sm"}, parameters={"/outrider/token": "from-ssm"})
    r = resolver({}, secrets_dir, store)
    assert r.resolve("prod/db") == "from-sm"
    assert r.resolve("/outrider/token") == "from-ssm"


@pytest.mark.parametrize("name", ["../outside", "a/../../outside", "..", "sub/.."])
def test_path_traversal_is_refused(secrets_dir: Path, name: str) -> None:
    (secrets_dir.parent / "outside").write_text("TOPSECRET")
    store = FakeStore()
    with pytest.raises(InvalidSecretName, match=r"'\.\.' path segments") as caught:
        resolver({}, secrets_dir, store).resolve(name)
    assert "TOPSECRET" not in str(caught.value)
    assert store.calls == []


def test_dotted_names_never_read_files(secrets_dir: Path) -> None:
    (secrets_dir / "a..b").write_text("from-file")
    with pytest.raises(SecretNotFound, match="skipped"):
        resolver({}, secrets_dir, FakeStore()).resolve("a..b")


@pytest.mark.parametrize("name", ["", "with space", "semi;colon", "x" * 513, "new\nline", "${x}"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidSecretName):
        resolver().resolve(name)


def test_not_found_names_every_place_and_no_value(secrets_dir: Path) -> None:
    env = {"OUTRIDER_SECRET_OTHER": "other-value-123"}
    (secrets_dir / "unrelated").write_text("file-value-456")
    store = FakeStore(secrets={"x": "sm-value-789"})
    with pytest.raises(SecretNotFound) as caught:
        resolver(env, secrets_dir, store).resolve("db-password")
    message = str(caught.value)
    assert "\n" not in message
    assert "'db-password'" in message
    assert "OUTRIDER_SECRET_DB_PASSWORD" in message
    assert str(secrets_dir / "db-password") in message
    assert "Secrets Manager" in message
    assert "SSM" in message
    for value in ("other-value-123", "file-value-456", "sm-value-789"):
        assert value not in message


def test_not_found_without_dir_or_aws_says_so() -> None:
    with pytest.raises(SecretNotFound, match=r"no secrets dir.*no store configured"):
        resolver().resolve("db-password")


def test_unreadable_file_fails_closed(secrets_dir: Path) -> None:
    (secrets_dir / "is-a-dir").mkdir()
    store = FakeStore(secrets={"is-a-dir": "from-sm"})
    with pytest.raises(SecretUnavailable, match="cannot read file"):
        resolver({}, secrets_dir, store).resolve("is-a-dir")
    assert store.calls == []


def test_non_utf8_file_error_has_no_bytes(secrets_dir: Path) -> None:
    (secrets_dir / "binary").write_bytes(b"\xffSECRETBYTES")
    with pytest.raises(SecretUnavailable, match="not valid UTF-8") as caught:
        resolver({}, secrets_dir).resolve("binary")
    assert "SECRETBYTES" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_store_error_fails_closed_without_trying_ssm() -> None:
    store = FakeStore(parameters={"db": "from-ssm"}, fail_with=RuntimeError("AccessDeniedException:\n not allowed"))
    with pytest.raises(
        SecretUnavailable, match=r"'db': Secrets Manager lookup failed: AccessDeniedException: not allowed$"
    ):
        resolver(aws=store).resolve("db")
    assert store.calls == [("secretsmanager", "db")]


def test_resolved_values_are_masked_from_every_source(secrets_dir: Path) -> None:
    masker = Masker()
    (secrets_dir / "from-file").write_text("file-value-456\n")
    store = FakeStore(secrets={"from-sm": "sm-value-789"}, parameters={"from-ssm": "ssm-value-000"})
    r = resolver({"OUTRIDER_SECRET_FROM_ENV": "env-value-123"}, secrets_dir, store, masker)
    values = [r.resolve(name) for name in ("from-env", "from-file", "from-sm", "from-ssm")]
    assert values == ["env-value-123", "file-value-456", "sm-value-789", "ssm-value-000"]
    assert masker.mask(" ".join(values)) == " ".join([MASK] * 4)


def test_values_are_cached_for_the_resolvers_lifetime() -> None:
    store = FakeStore(secrets={"db": "v1-value"})
    r = resolver(aws=store)
    assert r.resolve("db") == "v1-value"
    store.secrets["db"] = "v2-value"  # rotated meanwhile: this task keeps one consistent value
    assert r.resolve("db") == "v1-value"
    assert store.calls == [("secretsmanager", "db")]
    assert resolver(aws=store).resolve("db") == "v2-value"  # the next task sees the new one


def test_empty_env_value_counts_as_set() -> None:
    store = FakeStore(secrets={"empty": "from-sm"})
    assert resolver({"OUTRIDER_SECRET_EMPTY": ""}, aws=store).resolve("empty") == ""
    assert store.calls == []


def test_render_replaces_several_secrets() -> None:
    masker = Masker()
    env = {"OUTRIDER_SECRET_USER": "deployer", "OUTRIDER_SECRET_DB_PASS": "p4ss-word"}
    store = FakeStore(parameters={"/app/key": "k3y-value"})
    r = resolver(env, aws=store, masker=masker)
    text = "u=${secrets.user} p=${secrets.db.pass} k=${secrets./app/key} again=${secrets.user} ${app.name}"
    rendered = r.render(text)
    assert rendered == "u=deployer p=p4ss-word k=k3y-value again=deployer ${app.name}"
    assert masker.mask(rendered) == f"u={MASK} p={MASK} k={MASK} again={MASK} ${{app.name}}"


def test_render_does_not_render_values_or_interpret_backslashes() -> None:
    env = {"OUTRIDER_SECRET_A": r"${secrets.b} \1 \g<0>", "OUTRIDER_SECRET_B": "bbbb"}
    assert resolver(env).render("[${secrets.a}]") == r"[${secrets.b} \1 \g<0>]"


def test_render_unknown_secret_fails() -> None:
    with pytest.raises(SecretNotFound, match="'missing'"):
        resolver({"OUTRIDER_SECRET_A": "aaaa"}).render("${secrets.a} ${secrets.missing}")


def test_render_malformed_reference_fails() -> None:
    with pytest.raises(InvalidSecretName, match="with space"):
        resolver().render("x=${secrets.with space}")


def test_names_in() -> None:
    text = "${secrets.a} ${secrets.prod/db.pass} ${secrets.a} ${env.name} $secrets.b {secrets.c}"
    assert names_in(text) == {"a", "prod/db.pass"}
    assert SecretResolver.names_in(text) == {"a", "prod/db.pass"}
    assert names_in("no references") == set()
    with pytest.raises(InvalidSecretName):
        names_in("${secrets.../etc/passwd}")
