from shared.pb.outrider.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LeaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEASE_STATUS_UNSPECIFIED: _ClassVar[LeaseStatus]
    LEASE_STATUS_RENEWED: _ClassVar[LeaseStatus]
    LEASE_STATUS_CANCEL_REQUESTED: _ClassVar[LeaseStatus]
    LEASE_STATUS_LOST: _ClassVar[LeaseStatus]
LEASE_STATUS_UNSPECIFIED: LeaseStatus
LEASE_STATUS_RENEWED: LeaseStatus
LEASE_STATUS_CANCEL_REQUESTED: LeaseStatus
LEASE_STATUS_LOST: LeaseStatus

class RegisterRequest(_message.Message):
    __slots__ = ("name", "hostname", "version", "install_kind", "selectors", "max_tasks", "task_types")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INSTALL_KIND_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPES_FIELD_NUMBER: _ClassVar[int]
    name: str
    hostname: str
    version: str
    install_kind: str
    selectors: _containers.RepeatedScalarFieldContainer[str]
    max_tasks: int
    task_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., hostname: _Optional[str] = ..., version: _Optional[str] = ..., install_kind: _Optional[str] = ..., selectors: _Optional[_Iterable[str]] = ..., max_tasks: _Optional[int] = ..., task_types: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("delegate_id", "session_id", "poll_timeout_ms", "lease_duration_ms", "heartbeat_interval_ms", "recommended_version", "task_signing_public_key")
    DELEGATE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLL_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TASK_SIGNING_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    delegate_id: str
    session_id: str
    poll_timeout_ms: int
    lease_duration_ms: int
    heartbeat_interval_ms: int
    recommended_version: str
    task_signing_public_key: bytes
    def __init__(self, delegate_id: _Optional[str] = ..., session_id: _Optional[str] = ..., poll_timeout_ms: _Optional[int] = ..., lease_duration_ms: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., recommended_version: _Optional[str] = ..., task_signing_public_key: _Optional[bytes] = ...) -> None: ...

class PollTaskRequest(_message.Message):
    __slots__ = ("session_id", "free_slots", "wait_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FREE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    free_slots: int
    wait_ms: int
    def __init__(self, session_id: _Optional[str] = ..., free_slots: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "attempt", "lease_token", "type", "payload", "timeout_ms", "execution_id", "signature", "unavailability_policy", "unavailability_deadline_ms", "lease_expires_at_ms", "checkpoint")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABILITY_POLICY_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABILITY_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    lease_token: str
    type: str
    payload: bytes
    timeout_ms: int
    execution_id: str
    signature: bytes
    unavailability_policy: str
    unavailability_deadline_ms: int
    lease_expires_at_ms: int
    checkpoint: bytes
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., lease_token: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[bytes] = ..., timeout_ms: _Optional[int] = ..., execution_id: _Optional[str] = ..., signature: _Optional[bytes] = ..., unavailability_policy: _Optional[str] = ..., unavailability_deadline_ms: _Optional[int] = ..., lease_expires_at_ms: _Optional[int] = ..., checkpoint: _Optional[bytes] = ...) -> None: ...

class PollTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("session_id", "leases")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    leases: _containers.RepeatedCompositeFieldContainer[_common_pb2.LeaseRef]
    def __init__(self, session_id: _Optional[str] = ..., leases: _Optional[_Iterable[_Union[_common_pb2.LeaseRef, _Mapping]]] = ...) -> None: ...

class LeaseState(_message.Message):
    __slots__ = ("task_id", "attempt", "status", "lease_expires_at_ms")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    attempt: int
    status: LeaseStatus
    lease_expires_at_ms: int
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[_Union[LeaseStatus, str]] = ..., lease_expires_at_ms: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("leases",)
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[LeaseState]
    def __init__(self, leases: _Optional[_Iterable[_Union[LeaseState, _Mapping]]] = ...) -> None: ...

class AppendLogsRequest(_message.Message):
    __slots__ = ("session_id", "lease", "batches")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    lease: _common_pb2.LeaseRef
    batches: _containers.RepeatedCompositeFieldContainer[_common_pb2.LogBatch]
    def __init__(self, session_id: _Optional[str] = ..., lease: _Optional[_Union[_common_pb2.LeaseRef, _Mapping]] = ..., batches: _Optional[_Iterable[_Union[_common_pb2.LogBatch, _Mapping]]] = ...) -> None: ...

class AppendLogsResponse(_message.Message):
    __slots__ = ("acked_seq",)
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    acked_seq: int
    def __init__(self, acked_seq: _Optional[int] = ...) -> None: ...

class CompleteTaskRequest(_message.Message):
    __slots__ = ("session_id", "lease", "state", "result", "error", "last_log_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_LOG_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    lease: _common_pb2.LeaseRef
    state: _common_pb2.TaskState
    result: bytes
    error: str
    last_log_seq: int
    def __init__(self, session_id: _Optional[str] = ..., lease: _Optional[_Union[_common_pb2.LeaseRef, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.TaskState, str]] = ..., result: _Optional[bytes] = ..., error: _Optional[str] = ..., last_log_seq: _Optional[int] = ...) -> None: ...

class SaveCheckpointRequest(_message.Message):
    __slots__ = ("session_id", "lease", "data")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    lease: _common_pb2.LeaseRef
    data: bytes
    def __init__(self, session_id: _Optional[str] = ..., lease: _Optional[_Union[_common_pb2.LeaseRef, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class SaveCheckpointResponse(_message.Message):
    __slots__ = ("stored",)
    STORED_FIELD_NUMBER: _ClassVar[int]
    stored: bool
    def __init__(self, stored: _Optional[bool] = ...) -> None: ...

class CompleteTaskResponse(_message.Message):
    __slots__ = ("accepted", "state")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    state: _common_pb2.TaskState
    def __init__(self, accepted: _Optional[bool] = ..., state: _Optional[_Union[_common_pb2.TaskState, str]] = ...) -> None: ...
