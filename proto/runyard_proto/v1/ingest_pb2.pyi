from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ClientMessage(_message.Message):
    __slots__ = ("open", "batch", "heartbeat")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    open: OpenRun
    batch: RecordBatch
    heartbeat: Heartbeat
    def __init__(self, open: _Optional[_Union[OpenRun, _Mapping]] = ..., batch: _Optional[_Union[RecordBatch, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class ServerMessage(_message.Message):
    __slots__ = ("opened", "ack")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    opened: RunOpened
    ack: Ack
    def __init__(self, opened: _Optional[_Union[RunOpened, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class OpenRun(_message.Message):
    __slots__ = ("entity", "project", "run_id", "name", "resume", "config_json", "tags", "group", "job_type", "notes", "host", "start_time", "sync")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    entity: str
    project: str
    run_id: str
    name: str
    resume: str
    config_json: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    group: str
    job_type: str
    notes: str
    host: str
    start_time: float
    sync: bool
    def __init__(self, entity: _Optional[str] = ..., project: _Optional[str] = ..., run_id: _Optional[str] = ..., name: _Optional[str] = ..., resume: _Optional[str] = ..., config_json: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., notes: _Optional[str] = ..., host: _Optional[str] = ..., start_time: _Optional[float] = ..., sync: _Optional[bool] = ...) -> None: ...

class RunOpened(_message.Message):
    __slots__ = ("run_id", "entity", "project", "name", "resumed", "last_seq", "next_step", "state", "channel_seqs", "features")
    class ChannelSeqsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_SEQS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    entity: str
    project: str
    name: str
    resumed: bool
    last_seq: int
    next_step: int
    state: str
    channel_seqs: _containers.ScalarMap[str, int]
    features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., resumed: _Optional[bool] = ..., last_seq: _Optional[int] = ..., next_step: _Optional[int] = ..., state: _Optional[str] = ..., channel_seqs: _Optional[_Mapping[str, int]] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("seq", "rejected", "channel_seqs")
    class ChannelSeqsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SEQ_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_SEQS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    rejected: _containers.RepeatedCompositeFieldContainer[Rejected]
    channel_seqs: _containers.ScalarMap[str, int]
    def __init__(self, seq: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[Rejected, _Mapping]]] = ..., channel_seqs: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Rejected(_message.Message):
    __slots__ = ("seq", "reason", "channel")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    seq: int
    reason: str
    channel: str
    def __init__(self, seq: _Optional[int] = ..., reason: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: float
    def __init__(self, time: _Optional[float] = ...) -> None: ...

class RecordBatch(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("seq", "history", "summary", "config", "system", "output", "file", "finish", "update", "history_block", "channel")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_BLOCK_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    seq: int
    history: HistoryRow
    summary: SummaryUpdate
    config: ConfigUpdate
    system: SystemMetrics
    output: OutputLines
    file: FileSaved
    finish: Finish
    update: RunUpdate
    history_block: HistoryBlock
    channel: str
    def __init__(self, seq: _Optional[int] = ..., history: _Optional[_Union[HistoryRow, _Mapping]] = ..., summary: _Optional[_Union[SummaryUpdate, _Mapping]] = ..., config: _Optional[_Union[ConfigUpdate, _Mapping]] = ..., system: _Optional[_Union[SystemMetrics, _Mapping]] = ..., output: _Optional[_Union[OutputLines, _Mapping]] = ..., file: _Optional[_Union[FileSaved, _Mapping]] = ..., finish: _Optional[_Union[Finish, _Mapping]] = ..., update: _Optional[_Union[RunUpdate, _Mapping]] = ..., history_block: _Optional[_Union[HistoryBlock, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class HistoryRow(_message.Message):
    __slots__ = ("step", "timestamp", "keys", "values", "json_keys", "json_values")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    JSON_KEYS_FIELD_NUMBER: _ClassVar[int]
    JSON_VALUES_FIELD_NUMBER: _ClassVar[int]
    step: int
    timestamp: float
    keys: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedScalarFieldContainer[float]
    json_keys: _containers.RepeatedScalarFieldContainer[str]
    json_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, step: _Optional[int] = ..., timestamp: _Optional[float] = ..., keys: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[float]] = ..., json_keys: _Optional[_Iterable[str]] = ..., json_values: _Optional[_Iterable[str]] = ...) -> None: ...

class HistoryBlock(_message.Message):
    __slots__ = ("keys", "rows")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    rows: bytes
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., rows: _Optional[bytes] = ...) -> None: ...

class SummaryUpdate(_message.Message):
    __slots__ = ("set_json", "remove")
    SET_JSON_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    set_json: str
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, set_json: _Optional[str] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class ConfigUpdate(_message.Message):
    __slots__ = ("set_json", "remove")
    SET_JSON_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    set_json: str
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, set_json: _Optional[str] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class SystemMetrics(_message.Message):
    __slots__ = ("timestamp", "keys", "values")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    timestamp: float
    keys: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, timestamp: _Optional[float] = ..., keys: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class OutputLines(_message.Message):
    __slots__ = ("timestamp", "stream", "lines", "first_line")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    FIRST_LINE_FIELD_NUMBER: _ClassVar[int]
    timestamp: float
    stream: str
    lines: _containers.RepeatedScalarFieldContainer[str]
    first_line: int
    def __init__(self, timestamp: _Optional[float] = ..., stream: _Optional[str] = ..., lines: _Optional[_Iterable[str]] = ..., first_line: _Optional[int] = ...) -> None: ...

class FileSaved(_message.Message):
    __slots__ = ("path", "size", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class RunUpdate(_message.Message):
    __slots__ = ("name", "notes", "group", "job_type", "set_tags", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    notes: str
    group: str
    job_type: str
    set_tags: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., notes: _Optional[str] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., set_tags: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class Finish(_message.Message):
    __slots__ = ("exit_code", "error", "time")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    error: str
    time: float
    def __init__(self, exit_code: _Optional[int] = ..., error: _Optional[str] = ..., time: _Optional[float] = ...) -> None: ...

class BulkRequest(_message.Message):
    __slots__ = ("ref", "open", "records", "close")
    REF_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    ref: int
    open: OpenRun
    records: _containers.RepeatedCompositeFieldContainer[Record]
    close: bool
    def __init__(self, ref: _Optional[int] = ..., open: _Optional[_Union[OpenRun, _Mapping]] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., close: _Optional[bool] = ...) -> None: ...

class BulkReply(_message.Message):
    __slots__ = ("ref", "opened", "ack", "refused", "done")
    REF_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ref: int
    opened: RunOpened
    ack: Ack
    refused: RunRefused
    done: bool
    def __init__(self, ref: _Optional[int] = ..., opened: _Optional[_Union[RunOpened, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., refused: _Optional[_Union[RunRefused, _Mapping]] = ..., done: _Optional[bool] = ...) -> None: ...

class RunRefused(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
