"""The JSON-RPC numeric code of every `ErrorCode`, and the one function that builds an error envelope.

The domain raises errors named by `ErrorCode` and never sees a number; every error response the sidecar writes
(bad frame, bad envelope, unknown method, bad params, domain error, cancellation, an answer that could not be
encoded) is built by `error_response`, so its shape is decided here alone.
"""

from __future__ import annotations

from typing import Any

from sidecar.errors import ErrorCode

# The standard codes keep their standard numbers (a stock client understands -32602); the domain codes live in
# the implementation-defined -32000..-32099 range.
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
    ErrorCode.ORG_NOT_AUTHORIZED: -32012,
}

Message = dict[str, Any]


def error_response(code: ErrorCode, message: str, id_: Any = None, /, **data: Any) -> Message:
    """`{"jsonrpc": "2.0", "error": {code, message, data: {code: NAME, ...}}, "id": id}`; `data.code` wins.

    Positional-only, so a domain error's own `message` or `code` detail in `data` never collides with them.
    """
    return {
        "jsonrpc": "2.0",
        "error": {"code": RPC_CODES[code], "message": message, "data": {**data, "code": code.value}},
        "id": id_,
    }
