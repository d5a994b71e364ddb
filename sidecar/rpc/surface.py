"""The whole wire surface in one list: every handler class, and through their modules every notification.

`app.py` binds from it (`bind` refuses a handler that is not listed, `missing` names a listed method nobody bound,
and the app refuses to serve with one missing), protocol.md's test checks it and scripts/gen_types.py renders
TypeScript from it. Classes are named, not imported, so the wire package never imports the handlers above it and
the app can import the pool's handlers before serving and the rest just after (start-up speed).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from sidecar.rpc.dispatch import Dispatcher
from sidecar.rpc.specs import MethodSpec, NotificationSpec, specs_of

# module:Class. A module's NOTIFICATIONS list (if any) is part of the surface too.
HANDLERS: tuple[str, ...] = (
    "sidecar.handlers.org:OrgHandlers",
    "sidecar.handlers.agent:AgentHandlers",
    "sidecar.handlers.system:SystemHandlers",
    "sidecar.handlers.auth:AuthHandlers",
    "sidecar.handlers.governance:GovernanceHandlers",
    "sidecar.handlers.provision:ProvisionHandlers",
)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def handler_classes() -> list[type]:
    classes = []
    for entry in HANDLERS:
        module, _, name = entry.partition(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def notifications() -> list[NotificationSpec]:
    found: list[NotificationSpec] = []
    for entry in HANDLERS:
        found.extend(getattr(importlib.import_module(entry.partition(":")[0]), "NOTIFICATIONS", []))
    return found


def method_specs() -> list[MethodSpec]:
    return [spec for cls in handler_classes() for spec in specs_of(cls)]


def bind(dispatcher: Dispatcher, handlers: Iterable[object]) -> list[MethodSpec]:
    """Bind handler instances whose classes are on the surface; an unlisted one is a programming error."""
    handlers = list(handlers)
    for handler in handlers:
        if _qualified(type(handler)) not in HANDLERS:
            raise RuntimeError(f"{_qualified(type(handler))} is not in sidecar.rpc.surface.HANDLERS")
    return dispatcher.bind(handlers)


def missing(bound: set[str]) -> list[str]:
    """Methods on the surface that `bound` (a dispatcher's names) lacks."""
    return sorted(spec.name for spec in method_specs() if spec.name not in bound)


def schemas() -> dict[str, Any]:
    """JSON Schemas (by alias, i.e. camelCase) of every method's params and result and every notification."""
    from pydantic import TypeAdapter
    from pydantic.json_schema import models_json_schema

    methods: dict[str, Any] = {}
    for spec in method_specs():
        methods[spec.name] = {
            "summary": spec.summary,
            "params": spec.params.model_json_schema(by_alias=True),
            "positional": spec.param_names,
            "singleObject": spec.single_object,
            "result": TypeAdapter(spec.result).json_schema(by_alias=True),
            "errors": [e.value for e in spec.errors],
        }
    notes = {n.name: n.params.model_json_schema(by_alias=True) for n in notifications()}
    _, defs = models_json_schema([], by_alias=True)
    return {"methods": methods, "notifications": notes, "$defs": defs.get("$defs", {})}
