"""The wire: bytes <-> frames <-> JSON-RPC messages <-> typed handler calls. Knows nothing of orgs.

framing (bytes <-> frames) -> transport (frames <-> messages, the one writer) -> session (envelopes, ids,
cancellation, batches) -> dispatch (the method table, params, domain error -> wire error). `specs` is how a handler
declares a method; `surface` lists every handler class and notification. Handlers import `rpc_method`,
`NotificationSpec` and `NoParams` from here; nothing below the handlers imports this package.
"""

from sidecar.rpc.specs import MethodSpec, NoParams, NotificationSpec, rpc_method, specs_of

__all__ = ["MethodSpec", "NoParams", "NotificationSpec", "rpc_method", "specs_of"]
