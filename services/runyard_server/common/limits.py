"""The limits on what users send, in one place: sizes of strings and JSON documents, ranges of numbers.

docs/limits.md shows every constant here as a table (tests/security/test_limits.py keeps the two in
step). The REST services (auth, query, artifact) and ingest read them from here; a limit an operator may
change is a setting (`common/settings.py`) whose default is the constant below.

Something over a limit is refused with a message naming the field and the limit: HTTP 400/422
`invalid_argument`, 413 `resource_exhausted` for a whole request body, gRPC INVALID_ARGUMENT (or
RESOURCE_EXHAUSTED for a batch).
"""

from __future__ import annotations

__all__ = [
    "ARTIFACT_BODY_MAX_BYTES",
    "AUDIT_EVENT_FILTER_MAX",
    "AUTH_BODY_MAX_BYTES",
    "DATE_MAX_YEAR",
    "DATE_MIN_YEAR",
    "EMAIL_MAX",
    "ENTITY_NAME_MAX",
    "FILTER_DEPTH_MAX",
    "FILTER_MAX",
    "FILTER_NUMBER_EXPONENT_MAX",
    "HISTORY_KEYS_MAX",
    "HTTP_BODY_MAX_BYTES",
    "HTTP_QUERY_STRING_MAX",
    "HTTP_URL_PATH_MAX",
    "INT64_MAX",
    "INT64_MIN",
    "INVITE_TOKEN_MAX",
    "KEY_NAME_MAX",
    "LOGIN_FIELD_MAX",
    "OIDC_PARAM_MAX",
    "ORDER_KEYS_MAX",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "PROJECT_DESCRIPTION_MAX",
    "PROJECT_NAME_MAX",
    "QUERY_TEXT_MAX",
    "RUN_ID_MAX",
]

# ---- numbers ---------------------------------------------------------------------------------------
# Steps, offsets, ids and line numbers are PostgreSQL bigint: a query parameter outside is a 422.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Times in filters and `updated_since`: years PostgreSQL and Python both hold, after moving to UTC.
DATE_MIN_YEAR = 1
DATE_MAX_YEAR = 9999
# A number in the filter language lies within 1e-1000 .. 1e1000 in magnitude (or is 0): a PostgreSQL
# numeric holds far more, but nothing a run logs needs it.
FILTER_NUMBER_EXPONENT_MAX = 1000

# ---- names (entities are users and teams; projects and run ids are checked by ingest) --------------
ENTITY_NAME_MAX = 64
PROJECT_NAME_MAX = 128
RUN_ID_MAX = 64

# ---- auth ------------------------------------------------------------------------------------------
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
LOGIN_FIELD_MAX = 4096  # username/password as sent to login (longer never matches; refused at once)
EMAIL_MAX = 320
KEY_NAME_MAX = 200
INVITE_TOKEN_MAX = 200
OIDC_PARAM_MAX = 2048  # code, state, error and next of the single sign-on redirects
AUDIT_EVENT_FILTER_MAX = 64

# ---- query -----------------------------------------------------------------------------------------
FILTER_MAX = 4000  # characters of a filter expression
FILTER_DEPTH_MAX = 50  # nested parentheses / `not`
ORDER_KEYS_MAX = 4  # fields in `order=`
HISTORY_KEYS_MAX = 1000  # keys in one history request
QUERY_TEXT_MAX = 1000  # every other free-text query parameter (order, fields, by, metric, search, tag, ...)
PROJECT_DESCRIPTION_MAX = 10_000

# ---- whole HTTP requests ---------------------------------------------------------------------------
HTTP_URL_PATH_MAX = 4096  # bytes of the (percent-encoded) path: 414 beyond
HTTP_QUERY_STRING_MAX = 16_384  # bytes of the query string: 414 beyond
HTTP_BODY_MAX_BYTES = 1024 * 1024  # request body of query and auth (RUNYARD_MAX_REQUEST_BYTES): 413 beyond
AUTH_BODY_MAX_BYTES = 64 * 1024  # the auth service's bodies are small JSON documents
# the artifact service reads version manifests of up to 1,000,000 entries (about 200 bytes each)
ARTIFACT_BODY_MAX_BYTES = 256 * 1024 * 1024
