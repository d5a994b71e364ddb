"""Thin adapters between the wire and the services: parse params (pydantic), call one service, return a model.

Every handler class declares its methods with `@rpc_method` (from `sidecar.rpc`) and its module lists the
notifications it sends in `NOTIFICATIONS`; `sidecar.rpc.surface.HANDLERS` names every class, and the app binds
them from that one list (it refuses to serve if a listed method is unbound).
"""
