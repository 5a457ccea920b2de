"""Resolve `${secrets.NAME}` on the delegate, in the order the contract fixes.

Order (CONTRACT §3): the environment variable `OUTRIDER_SECRET_<NAME>` (upper-cased, every character
other than A-Z and 0-9 replaced by `_`), the file `NAME` in `--secrets-dir`, the AWS Secrets Manager
secret `NAME`, the SSM SecureString parameter `NAME`. The first source that has the secret wins.

Design:

* The AWS sources sit behind the `SecretStore` protocol; the delegate's one boto3 module implements it
  and owns retries. A store returns None for "does not exist" and raises for anything else. The
  resolver then fails closed with `SecretUnavailable` instead of trying the next source: silently
  falling through on, say, throttling could pick a different value from a lower-priority source.
* Names come from configuration the control plane renders, so they are validated here: only
  `[A-Za-z0-9_./-]`, and no `..` path segment at all. Names with `/` are legitimate for AWS
  (`prod/db`, `/outrider/token`) but can never be a file in the flat secrets directory, so the file
  source skips any name containing `/` or `..`; nothing outside `--secrets-dir` is ever opened.
  Symlinks inside the directory are followed on purpose: Kubernetes and Docker secret mounts are
  made of them, and the directory's content is the delegate operator's, not the control plane's.
* Every resolved value goes to the `Masker` before it is returned, so no caller can log it first.
* Values are cached for the resolver's lifetime (one task), so a secret used by ten functions costs
  one AWS call and a task sees one consistent value even if it is rotated meanwhile.
* Error messages name the secret and the places looked in, never a value.

I/O: environment lookups, reading one file, and calls through the `SecretStore`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from delegate.secrets.masking import Masker

ENV_PREFIX = "OUTRIDER_SECRET_"
NAME_PATTERN = r"[A-Za-z0-9_./-]+"
_NAME_RE = re.compile(NAME_PATTERN)
# Any `${secrets.…}` reference; the name is validated separately so a malformed one is an error
# instead of being passed on to AWS as literal text.
_REFERENCE_RE = re.compile(r"\$\{secrets\.([^}]*)\}")
_ENV_UNSAFE_RE = re.compile(r"[^A-Z0-9]")
# Secrets Manager allows 512 characters; longer names are hostile input, not secrets.
MAX_NAME_LENGTH = 512


class SecretError(Exception):
    """Root of secret failures; the message is one line naming the secret and never its value."""


class InvalidSecretName(SecretError):
    """The name has characters outside [A-Za-z0-9_./-], a `..` segment, or is too long."""


class SecretNotFound(SecretError):
    """No source has the secret."""


class SecretUnavailable(SecretError):
    """A source that may hold the secret failed (unreadable file, AWS error); resolution stopped there."""


class SecretStore(Protocol):
    """The AWS side of secret lookup, implemented by the delegate's AWS client wrapper."""

    def get_secret_value(self, name: str) -> str | None:
        """The Secrets Manager secret's SecretString, or None when no such secret exists."""

    def get_parameter(self, name: str) -> str | None:
        """The SSM parameter's decrypted value, or None when no such parameter exists."""


def env_var_name(name: str) -> str:
    """The environment variable that holds secret `name`: `db.password` -> `OUTRIDER_SECRET_DB_PASSWORD`."""
    return ENV_PREFIX + _ENV_UNSAFE_RE.sub("_", name.upper())


def validate_name(name: str) -> str:
    """Return `name` if it is an acceptable secret name, else raise InvalidSecretName."""
    shown = name if len(name) <= 80 else name[:80] + "..."
    if not _NAME_RE.fullmatch(name):
        raise InvalidSecretName(f"invalid secret name {shown!r}: use only letters, digits and _ . / -")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidSecretName(f"invalid secret name {shown!r}: longer than {MAX_NAME_LENGTH} characters")
    if ".." in name.split("/"):
        raise InvalidSecretName(f"invalid secret name {shown!r}: '..' path segments are not allowed")
    return name


def names_in(text: str) -> set[str]:
    """The secret names referenced as `${secrets.NAME}` in `text`; raises InvalidSecretName."""
    return {validate_name(match.group(1)) for match in _REFERENCE_RE.finditer(text)}


def _strip_one_newline(value: str) -> str:
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith("\n"):
        return value[:-1]
    return value


class SecretResolver:
    """Resolves secret names to values for one task, registering every value with the masker."""

    def __init__(
        self,
        env: Mapping[str, str],
        secrets_dir: Path | None,
        aws: SecretStore | None,
        masker: Masker,
    ) -> None:
        self._env = env
        self._secrets_dir = secrets_dir
        self._aws = aws
        self._masker = masker
        self._cache: dict[str, str] = {}
        # Held across a lookup so two threads asking for the same secret make one AWS call.
        self._lock = threading.Lock()

    def resolve(self, name: str) -> str:
        """The value of secret `name`; raises SecretNotFound, SecretUnavailable or InvalidSecretName."""
        validate_name(name)
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None:
                return cached
            value = self._lookup(name)
            self._masker.add(value)
            self._cache[name] = value
            return value

    def render(self, text: str) -> str:
        """`text` with each `${secrets.NAME}` replaced by its value; values themselves are not rendered."""
        # A function replacement: values are inserted literally, never parsed for backslash escapes.
        return _REFERENCE_RE.sub(lambda match: self.resolve(match.group(1)), text)

    @staticmethod
    def names_in(text: str) -> set[str]:
        """The secret names referenced in `text`; see the module function `names_in`."""
        return names_in(text)

    def _lookup(self, name: str) -> str:
        looked: list[str] = []

        variable = env_var_name(name)
        looked.append(f"env {variable}")
        if variable in self._env:
            return self._env[variable]

        if self._secrets_dir is None:
            looked.append("file (no secrets dir)")
        elif "/" in name or ".." in name:
            looked.append("file (skipped: name is not a plain file name)")
        else:
            path = self._secrets_dir / name
            looked.append(f"file {path}")
            from_file = self._read_file(name, path)
            if from_file is not None:
                return from_file

        if self._aws is None:
            looked.append("AWS (no store configured)")
        else:
            looked.append("AWS Secrets Manager")
            from_aws = self._ask(name, "Secrets Manager", self._aws.get_secret_value)
            if from_aws is not None:
                return from_aws
            looked.append("SSM Parameter Store")
            from_ssm = self._ask(name, "SSM Parameter Store", self._aws.get_parameter)
            if from_ssm is not None:
                return from_ssm

        raise SecretNotFound(f"secret {name!r} not found; looked in: {', '.join(looked)}")

    @staticmethod
    def _read_file(name: str, path: Path) -> str | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretUnavailable(
                f"secret {name!r}: cannot read file {path}: {exc.strerror or type(exc).__name__}"
            ) from None
        try:
            return _strip_one_newline(data.decode("utf-8"))
        except UnicodeDecodeError:
            # `from None`: the decode error's repr would carry the offending bytes of the secret.
            raise SecretUnavailable(f"secret {name!r}: file {path} is not valid UTF-8") from None

    @staticmethod
    def _ask(name: str, source: str, call: Callable[[str], str | None]) -> str | None:
        try:
            return call(name)
        except Exception as exc:
            # The store's exception text (botocore's "An error occurred (AccessDenied) ...") carries
            # no value; it is kept, on one line, so the operator can fix permissions.
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise SecretUnavailable(f"secret {name!r}: {source} lookup failed: {reason}") from exc
