"""Checks across documents: every reference resolves, and every workflow renders.

`reference_errors` returns one line per problem, each naming the document and field holding the bad
reference:

- an application-scoped document's Application exists;
- Service: the artifact's cloudProvider exists; its server exists and has the source's type;
- Environment: each infrastructure's cloudProvider exists; each override names a Service of the
  application;
- Workflow: service, environment and infrastructure exist, and the workflow renders (see
  `render.workflow_errors`): every `${workflow.variables.X}` the service uses is declared, function names,
  aliases and tags are valid after rendering, the merged environment fits in 4 KB;
- Trigger: the workflow exists.

Duplicate documents are rejected earlier, when a `ConfigSet` is built. Pure: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config.errors import format_path, missing_object
from shared.config.models import Application, DocumentBase, Environment, Service, Trigger, Workflow
from shared.config.render import workflow_errors
from shared.config.render_source import artifact_provider, artifact_server, cloud_provider

if TYPE_CHECKING:
    from shared.config.configset import ConfigSet

__all__ = ["reference_errors"]


def reference_errors(config: ConfigSet) -> list[str]:
    """Every reference problem in the configuration, in document order, each once."""
    errors: list[str] = []
    for document in config:
        errors.extend(_document_errors(config, document))
    # A service's broken reference is found both on the service and through each workflow using it.
    return list(dict.fromkeys(errors))


def _document_errors(config: ConfigSet, document: DocumentBase) -> list[str]:
    errors: list[str] = []
    app = document.application_name
    if app and config.get(Application, app) is None:
        errors.append(document.error_line("application", missing_object("Application", app)))
    if isinstance(document, Service):
        artifact_provider(config, document, errors)
        artifact_server(config, document, errors)
    elif isinstance(document, Environment):
        for index, infra in enumerate(document.spec.infrastructure):
            path = format_path(("spec", "infrastructure", index, "cloudProvider"))
            cloud_provider(config, document, path, infra.cloud_provider, errors)
        for index, override in enumerate(document.spec.overrides):
            if config.get(Service, override.service, app) is None:
                path = format_path(("spec", "overrides", index, "service"))
                errors.append(document.error_line(path, missing_object("Service", override.service, app)))
    elif isinstance(document, Workflow):
        errors.extend(workflow_errors(config, document))
    elif isinstance(document, Trigger) and config.get(Workflow, document.spec.workflow, app) is None:
        errors.append(document.error_line("spec.workflow", missing_object("Workflow", document.spec.workflow, app)))
    return errors
