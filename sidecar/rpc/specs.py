"""How a handler declares a method or a notification: `@rpc_method`, `MethodSpec`, `NotificationSpec`.

A method is declared once, on a handler class, with `@rpc_method(name, result=...)`; its params are a pydantic
model whose field order is the positional order (as `ipcRenderer.invoke(channel, ...args)` passes them). From that
one declaration come the dispatch table, the -32602 messages that name the parameter, protocol.md's checks and the
TypeScript types.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, get_type_hints

from pydantic import TypeAdapter

from sidecar.errors import ErrorCode
from sidecar.wiremodel import WireModel


class NoParams(WireModel):
    pass


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: type[WireModel]
    result: Any
    summary: str
    # The single positional param is an object whose keys are the params (`agent:provision`, `auth:signIn`).
    single_object: bool = False
    errors: tuple[ErrorCode, ...] = ()
    attribute: str = ""

    @cached_property
    def result_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.result)

    @cached_property
    def param_names(self) -> list[str]:
        return [f.alias or name for name, f in self.params.model_fields.items()]


@dataclass(frozen=True)
class NotificationSpec:
    name: str
    params: type[WireModel]
    summary: str


def rpc_method(
    name: str, *, result: Any, single_object: bool = False, errors: Iterable[ErrorCode] = ()
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Mark a handler method; the params model is read from the `params` annotation, the summary from the docstring."""

    def mark(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        func.__rpc_spec__ = dict(  # type: ignore[attr-defined]
            name=name, result=result, single_object=single_object, errors=tuple(errors)
        )
        return func

    return mark


def specs_of(handler_class: type) -> list[MethodSpec]:
    """Every method declared on a handler class, without instantiating it (docs and type generation use this)."""
    specs = []
    for attribute, func in inspect.getmembers(handler_class, inspect.isfunction):
        marked = getattr(func, "__rpc_spec__", None)
        if marked is None:
            continue
        hints = get_type_hints(func)
        params = hints.get("params", NoParams)
        summary = inspect.cleandoc(func.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        specs.append(MethodSpec(params=params, summary=summary, attribute=attribute, **marked))
    return specs
