"""Domain errors and the one table that maps them onto JSON-RPC error codes.

Services raise these and never see JSON-RPC; the dispatch layer turns them into wire errors through
`RPC_CODES`, so a code is decided in exactly one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The `error.data.code` values a client can branch on."""

    INVALID_PARAMS = "INVALID_PARAMS"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    CAPACITY_REACHED = "CAPACITY_REACHED"
    ORG_LEASED = "ORG_LEASED"
    ACCESS_DENIED = "ACCESS_DENIED"
    SF_UNAVAILABLE = "SF_UNAVAILABLE"
    SF_FAILED = "SF_FAILED"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    PARSE_ERROR = "PARSE_ERROR"
    INVALID_REQUEST = "INVALID_REQUEST"
    METHOD_NOT_FOUND = "METHOD_NOT_FOUND"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    INTERNAL = "INTERNAL"


# JSON-RPC numeric code for each data.code. The standard codes keep their standard numbers (a stock client
# understands -32602); the domain codes live in the implementation-defined -32000..-32099 range.
RPC_CODES: dict[ErrorCode, int] = {
    ErrorCode.PARSE_ERROR: -32700,
    ErrorCode.INVALID_REQUEST: -32600,
    ErrorCode.METHOD_NOT_FOUND: -32601,
    ErrorCode.INVALID_PARAMS: -32602,
    ErrorCode.INTERNAL: -32603,
    ErrorCode.CANCELLED: -32800,
    ErrorCode.NOT_FOUND: -32001,
    ErrorCode.ALREADY_EXISTS: -32002,
    ErrorCode.CAPACITY_REACHED: -32003,
    ErrorCode.ORG_LEASED: -32004,
    ErrorCode.ACCESS_DENIED: -32005,
    ErrorCode.SF_UNAVAILABLE: -32006,
    ErrorCode.SF_FAILED: -32007,
    ErrorCode.NOT_AUTHENTICATED: -32008,
    ErrorCode.TIMEOUT: -32009,
    ErrorCode.MESSAGE_TOO_LARGE: -32010,
    ErrorCode.DATABASE_UNAVAILABLE: -32011,
}


class SidecarError(Exception):
    """Base of every error a person or the UI should see with a code; `data` adds machine-readable detail."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, /, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class InvalidParams(SidecarError):
    code = ErrorCode.INVALID_PARAMS


class NotFound(SidecarError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(SidecarError):
    code = ErrorCode.ALREADY_EXISTS


class CapacityReached(SidecarError):
    code = ErrorCode.CAPACITY_REACHED


class OrgLeased(SidecarError):
    code = ErrorCode.ORG_LEASED


class AccessDenied(SidecarError):
    code = ErrorCode.ACCESS_DENIED


class SfUnavailable(SidecarError):
    code = ErrorCode.SF_UNAVAILABLE


class SfFailed(SidecarError):
    code = ErrorCode.SF_FAILED


class NotAuthenticated(SidecarError):
    code = ErrorCode.NOT_AUTHENTICATED


class Cancelled(SidecarError):
    code = ErrorCode.CANCELLED


class StepTimeout(SidecarError):
    code = ErrorCode.TIMEOUT


class DatabaseUnavailable(SidecarError):
    """The database cannot take this request: busy past the wait, or the file at its path is no longer ours."""

    code = ErrorCode.DATABASE_UNAVAILABLE
