"""Configuration as code (CONTRACT §3): parse, validate, check references, render task payloads.

A pure library: no network, no database, no file access (callers pass file contents in). Typical use:

    documents = parse_files([("shop.yaml", text)])           # ConfigSyntaxError / ConfigValidationError
    config = stored.merged(documents)                         # new documents replace same-key ones
    config.validate_references()                              # every reference, every workflow renders
    rendered = render_deployment(config, "shop", "orders-dev", execution_id, artifact, {"k": "v"})
    rendered.payload                                          # shared.payloads.LambdaDeployPayload

Every error is a `ConfigError` whose `.errors` are one-line messages such as
`services.yaml: document 2 (Service shop/orders): spec.functions[0].memorySize: must be between ...`.
Expression syntax (`${app.name}`, `${secrets.NAME}`, `$${` escapes) is in `shared/expressions.py`.
"""

from shared.config.configset import ConfigSet, normalize_kind
from shared.config.cron import CronSchedule, parse_cron
from shared.config.errors import (
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    Origin,
    UnknownObjectError,
)
from shared.config.loader import document_from_dict, parse_files
from shared.config.models import (
    KINDS,
    Application,
    ArtifactServer,
    CloudProvider,
    Document,
    DocumentBase,
    DocumentKey,
    Environment,
    Service,
    Trigger,
    Workflow,
)
from shared.config.output import documents_to_json, documents_to_yaml
from shared.config.render import (
    RenderedDeployment,
    RenderedSource,
    render_artifact_source,
    render_deployment,
    workflow_variables,
)
from shared.config.schema import json_schema

__all__ = [
    "KINDS",
    "Application",
    "ArtifactServer",
    "CloudProvider",
    "ConfigError",
    "ConfigSet",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "CronSchedule",
    "Document",
    "DocumentBase",
    "DocumentKey",
    "Environment",
    "Origin",
    "RenderedDeployment",
    "RenderedSource",
    "Service",
    "Trigger",
    "UnknownObjectError",
    "Workflow",
    "document_from_dict",
    "documents_to_json",
    "documents_to_yaml",
    "json_schema",
    "normalize_kind",
    "parse_cron",
    "parse_files",
    "render_artifact_source",
    "render_deployment",
    "workflow_variables",
]
