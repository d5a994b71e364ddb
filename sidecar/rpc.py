"""Typed method specs and their adaptation to jsonrpcserver: params binding, result dumping, error mapping.

A method is declared once, on a handler class, with `@rpc_method(name, result=...)`; its params are a pydantic
model whose field order is the positional order (as `ipcRenderer.invoke(channel, ...args)` passes them). From that
one declaration come the dispatch table, the -32602 messages that name the parameter, protocol.md's checks and the
TypeScript types. Handlers raise domain errors; `to_wire_error` is the only place they become JSON-RPC errors.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, get_type_hints

import anyio
from jsonrpcserver import Error, Success
from jsonrpcserver.async_dispatcher import dispatch_request
from jsonrpcserver.dispatcher import create_request, to_response
from jsonrpcserver.response import to_serializable_one
from jsonrpcserver.result import Result
from jsonrpcserver.sentinels import NOCONTEXT, NOID
from pydantic import TypeAdapter, ValidationError

from sidecar.errors import RPC_CODES, ErrorCode, InvalidParams, SidecarError
from sidecar.wiremodel import WireModel

log = logging.getLogger(__name__)


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

    @property
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


def describe_validation_error(method: str, exc: ValidationError) -> InvalidParams:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        problems.append({"param": where, "message": err["msg"]})
    text = "; ".join(f"{p['param']}: {p['message']}" for p in problems)
    return InvalidParams(f"invalid params for {method}: {text}", param=problems[0]["param"], errors=problems)


def bind_params(spec: MethodSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> WireModel:
    names = spec.param_names
    if spec.single_object and args:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise InvalidParams(
                f"{spec.name} takes one object param with keys {', '.join(names)}", param="params"
            )
        data = args[0]
    elif args:
        if len(args) > len(names):
            raise InvalidParams(
                f"{spec.name} takes at most {len(names)} params ({', '.join(names) or 'none'}), got {len(args)}",
                param="params",
            )
        data = dict(zip(names, args))
    else:
        data = kwargs
    try:
        return spec.params.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(spec.name, exc) from None


def to_wire_error(exc: SidecarError) -> Result:
    return Error(RPC_CODES[exc.code], exc.message, {**exc.data, "code": exc.code.value})


def normalize_response(response: Any) -> Any:
    """Give jsonrpcserver's own errors (method not found, arity) the same `data.code` shape as ours."""
    if isinstance(response, list):
        return [normalize_response(r) for r in response]
    error = response.get("error") if isinstance(response, dict) else None
    if error is not None and not (isinstance(error.get("data"), dict) and "code" in error["data"]):
        code = {RPC_CODES[c]: c for c in ErrorCode}.get(error.get("code"), ErrorCode.INTERNAL)
        detail = error.get("data")
        if code is ErrorCode.METHOD_NOT_FOUND:
            error["message"] = f"method not found: {detail}"
        elif detail is not None:
            error["message"] = f"{error.get('message')}: {detail}"
        error["data"] = {"code": code.value}
    return response


def bind_methods(handlers: Iterable[object]) -> tuple[dict[str, Callable[..., Awaitable[Result]]], list[MethodSpec]]:
    """The jsonrpcserver `methods` dict for handler instances, plus their specs."""
    table: dict[str, Callable[..., Awaitable[Result]]] = {}
    specs: list[MethodSpec] = []
    for handler in handlers:
        for spec in specs_of(type(handler)):
            if spec.name in table:
                raise RuntimeError(f"method {spec.name} is declared twice")
            table[spec.name] = _adapt(spec, getattr(handler, spec.attribute))
            specs.append(spec)
    return table, specs


def _adapt(spec: MethodSpec, call: Callable[[Any], Awaitable[Any]]) -> Callable[..., Awaitable[Result]]:
    async def method(*args: Any, **kwargs: Any) -> Result:
        try:
            params = bind_params(spec, args, kwargs)
            value = await call(params)
            return Success(spec.result_adapter.dump_python(value, mode="json", by_alias=True))
        except SidecarError as exc:
            return to_wire_error(exc)
        except ValidationError as exc:  # a model built inside a service from bad input
            return to_wire_error(describe_validation_error(spec.name, exc))
        except Exception as exc:
            log.exception("%s failed", spec.name)
            return Error(
                RPC_CODES[ErrorCode.INTERNAL],
                f"internal error in {spec.name}: {type(exc).__name__}: {exc}",
                {"code": ErrorCode.INTERNAL.value},
            )

    method.__name__ = spec.attribute
    # jsonrpcserver binds params to the signature on every call; precomputed, inspect.signature returns at once.
    method.__signature__ = _ANY_SIGNATURE  # type: ignore[attr-defined]
    return method


_ANY_SIGNATURE = inspect.Signature(
    [
        inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ]
)


class LateMethods:
    """Methods bound after serving has begun, so the first answer does not wait for every module to import.

    A request for a method not bound yet waits for the late batch (and asks for it at once) rather than getting
    -32601; once the batch is in, an unknown method is unknown.
    """

    def __init__(self) -> None:
        self._ready = anyio.Event()
        self._wanted = anyio.Event()

    async def wait(self) -> None:
        if not self._ready.is_set():
            self._wanted.set()
            await self._ready.wait()

    async def load(self, bind: Callable[[], Awaitable[None]], idle_seconds: float) -> None:
        """Run `bind` once a request needs it or after `idle_seconds`, whichever is first."""
        with anyio.move_on_after(idle_seconds):
            await self._wanted.wait()
        try:
            await bind()
        finally:
            self._ready.set()


def make_dispatch(
    methods: dict[str, Callable[..., Awaitable[Result]]], late: LateMethods | None = None
) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    """Dispatch one already-validated request object through jsonrpcserver.

    The transport has parsed the JSON and checked the envelope (and splits batches itself, so one bad element no
    longer fails a whole batch), so this goes straight to jsonrpcserver's per-request dispatch: its public entry
    points would parse again, validate with jsonschema (~90 us) and wrap a single request in asyncio.gather.
    """

    async def dispatch(message: dict[str, Any]) -> Any:
        if late is not None and message.get("method") not in methods:
            await late.wait()
        request, result = await dispatch_request(methods, NOCONTEXT, create_request(message))
        if request.id is NOID:
            return None
        return normalize_response(to_serializable_one(to_response(request, result)))

    return dispatch
