"""Read YAML text into validated documents, reporting every problem as one line.

The caller does the file I/O and passes `(source name, text)` pairs; this module only parses, so it is
usable on the CLI (files) and the server (request bodies) alike.

YAML is read with PyYAML's safe loader, adjusted towards YAML 1.2 because 1.1's implicit types surprise
configuration authors:

- only `true`/`false` are booleans: `on:` (the Trigger field), `yes`, `no`, `off` stay strings;
- dates are not converted (`version: 2024-01-01` stays a string);
- a key repeated in one mapping is an error instead of silently keeping the last value;
- anchors and aliases work, but a document that expands to more than `MAX_NODES` nodes (the "billion
  laughs" attack) or refers to itself is refused, since the server parses operator-supplied YAML.

Documents are numbered from 1 in each file, empty ones included (they are then skipped), so the number
in an error matches what a reader counts between `---` lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from shared.config import validation_messages
from shared.config.errors import ConfigSyntaxError, ConfigValidationError, Origin, format_error, format_path
from shared.config.models import KINDS, Document

__all__ = ["MAX_NODES", "check_duplicates", "document_from_dict", "parse_files"]

MAX_NODES = 100_000
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no timestamps and duplicate-key detection."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} in a mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL,
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse_files(files: Sequence[tuple[str, str]]) -> list[Document]:
    """Parse and validate every document of every file.

    Raises `ConfigSyntaxError` when any file is not YAML, otherwise `ConfigValidationError` when any
    document is invalid or two documents share kind, application and name; either carries every problem
    found in `.errors`. Cross-document references are not checked here (see `ConfigSet`).
    """
    documents: list[Document] = []
    syntax_errors: list[str] = []
    errors: list[str] = []
    for source, text in files:
        try:
            raw_documents = _load_yaml(source, text)
        except ConfigSyntaxError as exc:
            syntax_errors.extend(exc.errors)
            continue
        for index, raw in raw_documents:
            if raw is None:
                continue
            document, problems = _validate(raw, Origin(source, index))
            errors.extend(problems)
            if document is not None:
                documents.append(document)
    if syntax_errors:
        raise ConfigSyntaxError(syntax_errors + errors)
    errors.extend(check_duplicates(documents))
    if errors:
        raise ConfigValidationError(errors)
    return documents


def document_from_dict(data: Mapping[str, Any], origin: Origin | None = None) -> Document:
    """Validate one document already parsed (for example read back from storage as JSON)."""
    document, problems = _validate(data, origin)
    if document is None:
        raise ConfigValidationError(problems)
    return document


def check_duplicates(documents: Sequence[Document]) -> list[str]:
    """One error per document whose (kind, application, name) an earlier one already has."""
    first: dict[object, Document] = {}
    errors: list[str] = []
    for document in documents:
        earlier = first.setdefault(document.key, document)
        if earlier is not document:
            where = _where(earlier.origin)
            errors.append(
                format_error(
                    document.origin, document.label, None, f"duplicate document: {earlier.label} is also{where}"
                )
            )
    return errors


def _where(origin: Origin | None) -> str:
    return f" defined in {origin.source} document {origin.index}" if origin else " defined"


def _load_yaml(source: str, text: str) -> list[tuple[int, object]]:
    documents: list[tuple[int, object]] = []
    try:
        # Inside the try: the reader refuses control characters as soon as it is built.
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(format_error(None, source, None, f"invalid YAML: {exc}")) from None
    try:
        while loader.check_node():
            node = loader.get_node()
            index = len(documents) + 1
            if node is not None:
                _check_expansion(node, source, index)
            documents.append((index, loader.construct_document(node) if node is not None else None))
    except yaml.MarkedYAMLError as exc:
        raise ConfigSyntaxError(_yaml_message(source, exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(format_error(None, source, None, f"invalid YAML: {exc}")) from None
    except RecursionError:
        raise ConfigSyntaxError(format_error(None, source, None, "invalid YAML: nested too deeply")) from None
    except (ValueError, TypeError) as exc:
        # PyYAML's constructors raise these for values no configuration can hold: an integer of
        # thousands of digits, a !!set or !!map tag on a scalar.
        problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigSyntaxError(format_error(None, source, None, f"invalid YAML value: {problem}")) from None
    finally:
        loader.dispose()
    return documents


def _yaml_message(source: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark else source
    problem = exc.problem or "cannot parse"
    if exc.context:
        problem = f"{problem} ({exc.context})"
    return format_error(None, None, where, f"invalid YAML: {problem}")


def _check_expansion(root: yaml.Node, source: str, index: int) -> None:
    """Refuse documents whose aliases expand beyond MAX_NODES, or refer to themselves."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigSyntaxError(
                format_error(Origin(source, index), None, None, "invalid YAML: an alias refers to itself")
            )
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = min(total, MAX_NODES + 1)
        return sizes[key]

    if size(root) > MAX_NODES:
        raise ConfigSyntaxError(
            format_error(Origin(source, index), None, None, f"document expands to more than {MAX_NODES} YAML nodes")
        )


def _label(raw: Mapping[Any, Any]) -> str | None:
    kind, app, name = raw.get("kind"), raw.get("application"), raw.get("name")
    if not isinstance(kind, str):
        return None
    scoped = isinstance(app, str) and kind in KINDS and KINDS[kind].APPLICATION_SCOPED
    if isinstance(name, str):
        return f"{kind} {app}/{name}" if scoped else f"{kind} {name}"
    return kind


def _validate(raw: object, origin: Origin | None) -> tuple[Document | None, list[str]]:
    if not isinstance(raw, Mapping):
        problem = f"must be a mapping with kind, name and spec, got {validation_messages.describe(raw)}"
        return None, [format_error(origin, None, None, problem)]
    label = _label(raw)
    kind = raw.get("kind")
    if kind is None:
        return None, [format_error(origin, label, "kind", "required field is missing")]
    if not isinstance(kind, str) or kind not in KINDS:
        problem = f"unknown kind {validation_messages.describe(kind)} (expected one of: {', '.join(KINDS)})"
        return None, [format_error(origin, None, "kind", problem)]
    model = KINDS[kind]
    try:
        document = model.model_validate(raw)
    except ValidationError as exc:
        return None, [
            format_error(
                origin,
                label,
                format_path(validation_messages.user_path(error, raw)) or None,
                validation_messages.message(error, model),
            )
            for error in exc.errors(include_url=False)
        ]
    return document.with_origin(origin), []
