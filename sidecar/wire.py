"""The whole wire surface in one list: every handler class and every notification.

The app dispatches from it, protocol.md's test checks it, and scripts/gen_types.py renders TypeScript from it.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema
from pydantic import TypeAdapter

from sidecar.handlers import agent, auth, governance, org, provision, system
from sidecar.rpc import MethodSpec, NotificationSpec, specs_of

HANDLER_CLASSES: list[type] = [
    org.OrgHandlers,
    agent.AgentHandlers,
    system.SystemHandlers,
    auth.AuthHandlers,
    governance.GovernanceHandlers,
    provision.ProvisionHandlers,
]
NOTIFICATIONS: list[NotificationSpec] = [*org.NOTIFICATIONS, *governance.NOTIFICATIONS, *provision.NOTIFICATIONS]


def method_specs() -> list[MethodSpec]:
    return [spec for cls in HANDLER_CLASSES for spec in specs_of(cls)]


def schemas() -> dict[str, Any]:
    """JSON Schemas (by alias, i.e. camelCase) of every method's params and result and every notification."""
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
    notifications = {n.name: n.params.model_json_schema(by_alias=True) for n in NOTIFICATIONS}
    _, defs = models_json_schema([], by_alias=True)
    return {"methods": methods, "notifications": notifications, "$defs": defs.get("$defs", {})}
