from shared.pb.outrider.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TokenInfo(_message.Message):
    __slots__ = ("name", "selectors", "created_at_ms", "last_used_at_ms", "revoked", "delegates", "expires_at_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    DELEGATES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    selectors: _containers.RepeatedScalarFieldContainer[str]
    created_at_ms: int
    last_used_at_ms: int
    revoked: bool
    delegates: _containers.RepeatedScalarFieldContainer[str]
    expires_at_ms: int
    def __init__(self, name: _Optional[str] = ..., selectors: _Optional[_Iterable[str]] = ..., created_at_ms: _Optional[int] = ..., last_used_at_ms: _Optional[int] = ..., revoked: _Optional[bool] = ..., delegates: _Optional[_Iterable[str]] = ..., expires_at_ms: _Optional[int] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name", "selectors", "rotate", "grace_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    ROTATE_FIELD_NUMBER: _ClassVar[int]
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    selectors: _containers.RepeatedScalarFieldContainer[str]
    rotate: bool
    grace_seconds: int
    def __init__(self, name: _Optional[str] = ..., selectors: _Optional[_Iterable[str]] = ..., rotate: _Optional[bool] = ..., grace_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "info")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    token: str
    info: TokenInfo
    def __init__(self, token: _Optional[str] = ..., info: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: TokenInfo
    def __init__(self, info: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("name", "role", "applications")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    applications: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., applications: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("api_key", "name", "role")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    name: str
    role: str
    def __init__(self, api_key: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class DelegateInfo(_message.Message):
    __slots__ = ("delegate_id", "name", "hostname", "version", "install_kind", "selectors", "max_tasks", "running_tasks", "last_seen_ms", "connected", "token_name", "outdated")
    DELEGATE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTALL_KIND_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_MS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    TOKEN_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTDATED_FIELD_NUMBER: _ClassVar[int]
    delegate_id: str
    name: str
    hostname: str
    version: str
    install_kind: str
    selectors: _containers.RepeatedScalarFieldContainer[str]
    max_tasks: int
    running_tasks: int
    last_seen_ms: int
    connected: bool
    token_name: str
    outdated: bool
    def __init__(self, delegate_id: _Optional[str] = ..., name: _Optional[str] = ..., hostname: _Optional[str] = ..., version: _Optional[str] = ..., install_kind: _Optional[str] = ..., selectors: _Optional[_Iterable[str]] = ..., max_tasks: _Optional[int] = ..., running_tasks: _Optional[int] = ..., last_seen_ms: _Optional[int] = ..., connected: _Optional[bool] = ..., token_name: _Optional[str] = ..., outdated: _Optional[bool] = ...) -> None: ...

class ListDelegatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDelegatesResponse(_message.Message):
    __slots__ = ("delegates", "recommended_version")
    DELEGATES_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_VERSION_FIELD_NUMBER: _ClassVar[int]
    delegates: _containers.RepeatedCompositeFieldContainer[DelegateInfo]
    recommended_version: str
    def __init__(self, delegates: _Optional[_Iterable[_Union[DelegateInfo, _Mapping]]] = ..., recommended_version: _Optional[str] = ...) -> None: ...

class TaskInfo(_message.Message):
    __slots__ = ("task_id", "type", "state", "attempt", "max_attempts", "selectors", "delegate_id", "result", "error", "created_at_ms", "updated_at_ms", "execution_id", "cancel_requested")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    DELEGATE_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    type: str
    state: _common_pb2.TaskState
    attempt: int
    max_attempts: int
    selectors: _containers.RepeatedScalarFieldContainer[str]
    delegate_id: str
    result: bytes
    error: str
    created_at_ms: int
    updated_at_ms: int
    execution_id: str
    cancel_requested: bool
    def __init__(self, task_id: _Optional[str] = ..., type: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.TaskState, str]] = ..., attempt: _Optional[int] = ..., max_attempts: _Optional[int] = ..., selectors: _Optional[_Iterable[str]] = ..., delegate_id: _Optional[str] = ..., result: _Optional[bytes] = ..., error: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., execution_id: _Optional[str] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class SubmitTaskRequest(_message.Message):
    __slots__ = ("type", "payload", "selectors", "max_attempts", "timeout_ms", "unavailability_policy", "unavailability_deadline_ms")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABILITY_POLICY_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABILITY_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    type: str
    payload: bytes
    selectors: _containers.RepeatedScalarFieldContainer[str]
    max_attempts: int
    timeout_ms: int
    unavailability_policy: str
    unavailability_deadline_ms: int
    def __init__(self, type: _Optional[str] = ..., payload: _Optional[bytes] = ..., selectors: _Optional[_Iterable[str]] = ..., max_attempts: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., unavailability_policy: _Optional[str] = ..., unavailability_deadline_ms: _Optional[int] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskInfo]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskInfo, _Mapping]]] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class WatchTaskRequest(_message.Message):
    __slots__ = ("task_id", "cursor", "no_follow")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    cursor: str
    no_follow: bool
    def __init__(self, task_id: _Optional[str] = ..., cursor: _Optional[str] = ..., no_follow: _Optional[bool] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("cursor", "line", "task_id", "attempt", "status", "done")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    line: _common_pb2.LogLine
    task_id: str
    attempt: int
    status: str
    done: bool
    def __init__(self, cursor: _Optional[str] = ..., line: _Optional[_Union[_common_pb2.LogLine, _Mapping]] = ..., task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[str] = ..., done: _Optional[bool] = ...) -> None: ...

class ConfigDocument(_message.Message):
    __slots__ = ("source", "text")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    source: str
    text: str
    def __init__(self, source: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ApplyRequest(_message.Message):
    __slots__ = ("files", "dry_run")
    FILES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[ConfigDocument]
    dry_run: bool
    def __init__(self, files: _Optional[_Iterable[_Union[ConfigDocument, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ApplyResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class GetObjectsRequest(_message.Message):
    __slots__ = ("kind", "name", "application")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    application: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., application: _Optional[str] = ...) -> None: ...

class GetObjectsResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class DeployRequest(_message.Message):
    __slots__ = ("workflow", "application", "artifact_version", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_VERSION_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    application: str
    artifact_version: str
    variables: _containers.ScalarMap[str, str]
    def __init__(self, workflow: _Optional[str] = ..., application: _Optional[str] = ..., artifact_version: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ExecutionResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("application", "limit")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    application: str
    limit: int
    def __init__(self, application: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class CancelExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class WatchExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "cursor", "no_follow")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    cursor: str
    no_follow: bool
    def __init__(self, execution_id: _Optional[str] = ..., cursor: _Optional[str] = ..., no_follow: _Optional[bool] = ...) -> None: ...

class ListTriggersRequest(_message.Message):
    __slots__ = ("application",)
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    application: str
    def __init__(self, application: _Optional[str] = ...) -> None: ...

class SetTriggerPausedRequest(_message.Message):
    __slots__ = ("application", "name", "paused")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    application: str
    name: str
    paused: bool
    def __init__(self, application: _Optional[str] = ..., name: _Optional[str] = ..., paused: _Optional[bool] = ...) -> None: ...

class FireTriggerRequest(_message.Message):
    __slots__ = ("application", "name")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    application: str
    name: str
    def __init__(self, application: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListArtifactsRequest(_message.Message):
    __slots__ = ("application", "service")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    application: str
    service: str
    def __init__(self, application: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class JsonResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class JsonListResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...
