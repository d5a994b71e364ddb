"""Domain errors and the names (`ErrorCode`) a client can branch on.

Services raise these and never see JSON-RPC or its numbers; `sidecar.rpc.dispatch` turns them into wire errors
through `sidecar.rpc.codes.RPC_CODES`, so a number is decided in exactly one place.
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
    ORG_NOT_AUTHORIZED = "ORG_NOT_AUTHORIZED"
    INTERNAL = "INTERNAL"


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


class OrgNotAuthorized(SidecarError):
    """This machine's CLI cannot be logged in to an org another machine of a shared pool made (no team key, another
    key, no stored auth URL, or the login failed); `data.reason` says which."""

    code = ErrorCode.ORG_NOT_AUTHORIZED
