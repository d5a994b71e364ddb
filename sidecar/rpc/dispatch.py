"""The method table: bind handler instances, bind params to their model, call, map a domain error to a wire error.

The session hands over a request whose envelope it has checked; this module looks the method up, binds the params
(positional in declaration order, or named by their camelCase names), calls the handler and dumps its result.
Handlers raise domain errors; `to_wire_error` is the only place they become JSON-RPC errors.

jsonrpcserver (the dependency the project chose) is confined here and kept off the hot path: a method in the table
is called directly, because jsonrpcserver's route (about a dozen functions: request object, signature check,
Either results, response objects, then our code undoing its error shape) only added work to every round trip.
It answers what the table does not know (the -32601 for an unknown method).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
from jsonrpcserver.async_dispatcher import dispatch_request
from jsonrpcserver.dispatcher import create_request, to_response
from jsonrpcserver.response import to_serializable_one
from jsonrpcserver.sentinels import NOCONTEXT, NOID
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from sidecar.errors import ErrorCode, InvalidParams, SidecarError
from sidecar.rpc.codes import Message, error_response
from sidecar.rpc.specs import MethodSpec, specs_of
from sidecar.wiremodel import WireModel

log = logging.getLogger(__name__)


class Reply:
    """What a bound method produced: a JSON-ready result, or an error (code, message, data)."""

    __slots__ = ("error", "result")

    def __init__(self, result: Any = None, error: tuple[ErrorCode, str, dict[str, Any]] | None = None) -> None:
        self.result = result
        self.error = error

    def response(self, id_: Any) -> Message:
        if self.error is None:
            return {"jsonrpc": "2.0", "result": self.result, "id": id_}
        code, message, data = self.error
        return error_response(code, message, id_, **data)


Bound = Callable[[tuple[Any, ...], dict[str, Any]], Awaitable[Reply]]


def describe_validation_error(method: str, exc: ValidationError) -> InvalidParams:
    problems: list[dict[str, str]] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        message = err["msg"]
        last = str(err["loc"][-1]) if err["loc"] else ""
        if err["type"] == "extra_forbidden" and "_" in last and to_camel(last) != last:
            # A snake_case name first: it is the mistake, the missing camelCase one only its consequence.
            problems.insert(0, {"param": where, "message": f"unknown param (params are camelCase: {to_camel(last)})"})
            continue
        problems.append({"param": where, "message": message})
    text = "; ".join(f"{p['param']}: {p['message']}" for p in problems)
    return InvalidParams(f"invalid params for {method}: {text}", param=problems[0]["param"], errors=problems)


def bind_params(spec: MethodSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> WireModel:
    """Positional params in declaration order, or named ones by their wire (camelCase) names only.

    `by_name=False`: protocol.md names params in camelCase, so `{"agent_id": ...}` is an unknown param, not a
    synonym (the Python field names are an implementation detail and must not become a second wire dialect).
    """
    names = spec.param_names
    where = _lone_surrogate(args[0] if spec.single_object and args else (list(args) if args else kwargs), names, spec)
    if where is not None:
        raise InvalidParams(
            f"invalid params for {spec.name}: {where}: contains a lone UTF-16 surrogate (half a character), which"
            " cannot be stored or passed on",
            param=where,
        )
    if spec.single_object and args:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise InvalidParams(f"{spec.name} takes one object param with keys {', '.join(names)}", param="params")
        data = args[0]
    elif args:
        if len(args) > len(names):
            raise InvalidParams(
                f"{spec.name} takes at most {len(names)} params ({', '.join(names) or 'none'}), got {len(args)}",
                param="params",
            )
        data = dict(zip(names, args, strict=False))  # fewer args than names: the rest take defaults
    else:
        data = kwargs
    try:
        return spec.params.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise describe_validation_error(spec.name, exc) from None


def _lone_surrogate(value: Any, names: list[str], spec: MethodSpec, path: str = "") -> str | None:
    """The param path of the first string holding a lone surrogate (JavaScript's half an emoji), or None.

    Checked once, here, for every method: such a string cannot be encoded as UTF-8, so SQLite, a file path or an
    `sf` argument would fail on it deep inside a service with an internal error.
    """
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "params"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _lone_surrogate(key, names, spec, path) or _lone_surrogate(
                item, names, spec, f"{path}.{key}" if path else str(key)
            )
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if path:  # noqa: SIM108 - two cases read better than a nested conditional expression
                child = f"{path}.{index}"
            else:
                child = names[index] if index < len(names) else str(index)
            found = _lone_surrogate(item, names, spec, child)
            if found is not None:
                return found
    return None


def to_wire_error(exc: SidecarError) -> Reply:
    return Reply(error=(exc.code, exc.message, exc.data))


def _adapt(spec: MethodSpec, call: Callable[[Any], Awaitable[Any]]) -> Bound:
    async def method(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Reply:
        try:
            params = bind_params(spec, args, kwargs)
            value = await call(params)
            return Reply(spec.result_adapter.dump_python(value, mode="json", by_alias=True))
        except SidecarError as exc:
            return to_wire_error(exc)
        except ValidationError as exc:  # a model built inside a service from bad input
            return to_wire_error(describe_validation_error(spec.name, exc))
        except Exception as exc:
            log.exception("%s failed", spec.name)
            return Reply(error=(ErrorCode.INTERNAL, f"internal error in {spec.name}: {type(exc).__name__}: {exc}", {}))

    method.__name__ = spec.attribute
    return method


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


class Dispatcher:
    """The method table of one session; `bind` adds handler instances, calling it answers one checked request."""

    def __init__(self, late: LateMethods | None = None) -> None:
        self._table: dict[str, Bound] = {}
        self._late = late

    def bind(self, handlers: Iterable[object]) -> list[MethodSpec]:
        """Add every `@rpc_method` of each handler instance; a name declared twice is a programming error."""
        specs: list[MethodSpec] = []
        for handler in handlers:
            for spec in specs_of(type(handler)):
                if spec.name in self._table:
                    raise RuntimeError(f"method {spec.name} is declared twice")
                self._table[spec.name] = _adapt(spec, getattr(handler, spec.attribute))
                specs.append(spec)
        return specs

    @property
    def names(self) -> set[str]:
        return set(self._table)

    async def __call__(self, message: Message) -> Message | None:
        """The response to one request (None for a notification); the envelope is already checked."""
        name = message["method"]
        method = self._table.get(name)
        if method is None and self._late is not None:
            await self._late.wait()
            method = self._table.get(name)
        if method is None:
            return await _unknown(message)
        params = message.get("params")
        if isinstance(params, list):
            reply = await method(tuple(params), {})
        else:
            reply = await method((), params or {})
        if "id" not in message:
            return None
        return reply.response(message["id"])


async def _unknown(message: Message) -> Message | None:
    """jsonrpcserver's answer for a method the table does not have, in our error shape."""
    request, result = await dispatch_request({}, NOCONTEXT, create_request(message))
    if request.id is NOID:
        return None
    serialized = to_serializable_one(to_response(request, result))
    assert isinstance(serialized, dict)  # one request, and an unknown method is always an error: one error object
    error = serialized["error"]
    return error_response(ErrorCode.METHOD_NOT_FOUND, f"method not found: {error.get('data')}", message["id"])
