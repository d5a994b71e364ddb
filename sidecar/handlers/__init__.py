"""Thin adapters between the wire and the services: parse params (pydantic), call one service, return a model.

Every handler class declares its methods with `@rpc_method`; `HANDLER_CLASSES` and `NOTIFICATIONS` are the full
wire surface, read by the app (dispatch), by protocol.md's test and by the TypeScript generator.
"""
