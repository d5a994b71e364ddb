#!/usr/bin/env python3
"""Render clients/electron/types.d.ts from the sidecar's pydantic models.

    python scripts/gen_types.py            # write the file
    python scripts/gen_types.py --check    # exit 1 when the file is stale (CI and the JS tests run this)

The input is `sidecar.rpc.surface.schemas()`:

    {"methods": {name: {"params": <JSON schema of the params model>, "positional": [param names in order],
                        "singleObject": bool, "result": <JSON schema>, "summary": str, "errors": [codes]}},
     "notifications": {name: <JSON schema>},
     "$defs" | "definitions": {name: <JSON schema>}}

Each schema may carry its own `$defs`; a named model (a schema with a `title` and properties) becomes an
`interface`, a string enum a union type. Results and notifications are what the sidecar *sends*: every field is
present (pydantic dumps defaults), so a field with a default is rendered required, possibly `| null`. Params are
what the client *sends*: a field with a default is optional.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "clients" / "electron" / "types.d.ts"
REGENERATE = "python scripts/gen_types.py"

IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


class Registry:
    """Named types collected from every schema, with the direction (sent or received) each is used in."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self.raw: dict[str, str] = {}  # canonical text of each type as found, to tell same-named models apart
        self.outgoing: set[str] = set()  # reachable from a result or a notification
        self.warnings: list[str] = []

    def reserve(self, name: str, raw_schema: dict[str, Any]) -> str:
        """The TypeScript name for a model: its own, or `<name>2`, ... when another model already took it."""
        base = ts_name(name)
        text = canonical(raw_schema)
        candidate, n = base, 1
        while candidate in self.raw and self.raw[candidate] != text:
            n += 1
            candidate = f"{base}{n}"
        if candidate not in self.raw:
            self.raw[candidate] = text
            if n > 1:
                self.warnings.append(f"two different models are both named {base}; one is rendered as {candidate}")
        return candidate


def canonical(schema: Any) -> str:
    return json.dumps(strip_docs(schema), sort_keys=True)


def strip_docs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: strip_docs(v) for k, v in schema.items() if k not in ("description", "title", "$defs", "definitions")
        }
    if isinstance(schema, list):
        return [strip_docs(v) for v in schema]
    return schema


def ts_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_$]", "_", name)
    return cleaned if IDENTIFIER.match(cleaned) else f"_{cleaned}"


def pascal(method: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", method) if part)


def is_named_model(schema: dict[str, Any]) -> bool:
    return bool(schema.get("title")) and (
        (schema.get("type") == "object" and "properties" in schema) or ("enum" in schema and "type" in schema)
    )


class Renderer:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _resolved(self, schema: Any, refs: dict[str, str]) -> Any:
        """A copy of the schema whose local `$ref`s name registry types (`#/types/<Name>`)."""
        if isinstance(schema, dict):
            out = {}
            for k, v in schema.items():
                if k in ("$defs", "definitions"):
                    continue
                if k == "$ref" and isinstance(v, str) and v in refs:
                    out[k] = f"#/types/{refs[v]}"
                else:
                    out[k] = self._resolved(v, refs)
            return out
        if isinstance(schema, list):
            return [self._resolved(v, refs) for v in schema]
        return schema

    def prepare(self, schema: dict[str, Any], *, name_root: bool) -> dict[str, Any]:
        """Registers the schema's `$defs` as named types; returns the schema with refs pointing at them.

        With name_root, a named model at the root becomes a registry type too and the return value refers to it.
        """
        refs: dict[str, str] = {}
        found: list[tuple[str, dict[str, Any]]] = []
        for key in ("$defs", "definitions"):
            for def_name, def_schema in (schema.get(key) or {}).items():
                refs[f"#/{key}/{def_name}"] = self.registry.reserve(def_name, def_schema)
                found.append((refs[f"#/{key}/{def_name}"], def_schema))
        for final, def_schema in found:
            self.registry.schemas.setdefault(final, self._resolved(def_schema, refs))
        if name_root and is_named_model(schema):
            final = self.registry.reserve(
                schema["title"], {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
            )
            self.registry.schemas.setdefault(final, self._resolved(schema, refs))
            return {"$ref": f"#/types/{final}"}
        return self._resolved(schema, refs)

    def mark_outgoing(self, schema: Any) -> None:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/types/"):
                name = ref.removeprefix("#/types/")
                if name not in self.registry.outgoing:
                    self.registry.outgoing.add(name)
                    self.mark_outgoing(self.registry.schemas.get(name, {}))
            for v in schema.values():
                self.mark_outgoing(v)
        elif isinstance(schema, list):
            for v in schema:
                self.mark_outgoing(v)

    def type_of(self, schema: Any, *, outgoing: bool, indent: str = "") -> str:
        if schema is True or schema == {} or schema is None:
            return "unknown"
        if schema is False:
            return "never"
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref.startswith("#/types/"):
                return ref.removeprefix("#/types/")
            return "unknown"
        if "const" in schema:
            return json.dumps(schema["const"])
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"]) or "never"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                parts = []
                for option in schema[key]:
                    t = self.type_of(option, outgoing=outgoing, indent=indent)
                    if t not in parts:
                        parts.append(t)
                return " | ".join(wrap_union(p) for p in parts) if len(parts) > 1 else parts[0]
        if "allOf" in schema:
            parts = [self.type_of(option, outgoing=outgoing, indent=indent) for option in schema["allOf"]]
            return " & ".join(wrap_union(p) for p in parts) if len(parts) > 1 else parts[0]
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self.type_of({**schema, "type": k}, outgoing=outgoing, indent=indent) for k in kind)
        if kind == "null":
            return "null"
        if kind == "string":
            return "IsoDateTime" if schema.get("format") == "date-time" else "string"
        if kind in ("integer", "number"):
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "array":
            if "prefixItems" in schema:
                items = [self.type_of(i, outgoing=outgoing, indent=indent) for i in schema["prefixItems"]]
                return f"[{', '.join(items)}]"
            item = self.type_of(schema.get("items", {}), outgoing=outgoing, indent=indent)
            return f"Array<{item}>" if " " in item else f"{item}[]"
        if kind == "object" or "properties" in schema:
            return self.object_body(schema, outgoing=outgoing, indent=indent)
        return "unknown"

    def object_body(self, schema: dict[str, Any], *, outgoing: bool, indent: str) -> str:
        props: dict[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if not props:
            if isinstance(extra, dict) and extra:
                return f"Record<string, {self.type_of(extra, outgoing=outgoing, indent=indent)}>"
            if extra is False:
                return "Record<string, never>"
            return "Record<string, unknown>"
        required = set(schema.get("required") or [])
        inner = indent + "  "
        lines = ["{"]
        for name, prop in props.items():
            doc = prop.get("description") if isinstance(prop, dict) else None
            if doc:
                lines.append(f"{inner}/** {one_line(doc)} */")
            optional = name not in required and not (outgoing and isinstance(prop, dict) and "default" in prop)
            key = name if IDENTIFIER.match(name) else json.dumps(name)
            lines.append(
                f"{inner}{key}{'?' if optional else ''}: {self.type_of(prop, outgoing=outgoing, indent=inner)};"
            )
        if isinstance(extra, dict) and extra:
            lines.append(f"{inner}[key: string]: {self.type_of(extra, outgoing=outgoing, indent=inner)};")
        lines.append(f"{indent}}}")
        return "\n".join(lines)

    def declaration(self, name: str) -> str:
        schema = self.registry.schemas[name]
        outgoing = name in self.registry.outgoing
        doc = schema.get("description")
        head = f"/** {one_line(doc)} */\n" if doc else ""
        body = self.type_of(schema, outgoing=outgoing)
        if body.startswith("{"):
            return f"{head}export interface {name} {body}"
        return f"{head}export type {name} = {body};"


def wrap_union(t: str) -> str:
    return f"({t})" if "=>" in t else t


def one_line(text: str) -> str:
    return " ".join(str(text).split()).replace("*/", "* /")


def render(data: dict[str, Any], error_codes: list[str] | None = None) -> tuple[str, list[str]]:
    registry = Registry()
    r = Renderer(registry)
    top_defs = {**(data.get("definitions") or {}), **(data.get("$defs") or {})}
    if top_defs:
        r.prepare({"$defs": top_defs}, name_root=False)

    methods: list[tuple[str, dict[str, Any]]] = []
    for name, spec in (data.get("methods") or {}).items():
        params_schema = r.prepare(spec.get("params") or {}, name_root=False)
        result_schema = r.prepare(
            spec.get("result") if spec.get("result") is not None else {"type": "null"}, name_root=True
        )
        r.mark_outgoing(result_schema)
        params_name = f"{pascal(name)}Params"
        registry.schemas[params_name] = {**params_schema, "title": params_name}
        methods.append(
            (name, {**spec, "params_name": params_name, "params_schema": params_schema, "result_schema": result_schema})
        )

    notifications: list[tuple[str, dict[str, Any]]] = []
    for name, schema in (data.get("notifications") or {}).items():
        prepared = r.prepare(schema or {}, name_root=True)
        r.mark_outgoing(prepared)
        notifications.append((name, prepared))

    out: list[str] = [
        "// Generated by scripts/gen_types.py from the sidecar's pydantic models (sidecar.rpc.surface.schemas()).",
        f"// Do not edit by hand: run `{REGENERATE}` from the repository root. `--check` fails when stale.",
        "",
        "/** An instant as ISO 8601 text in UTC, e.g. `2030-01-01T00:00:00Z`. */",
        "export type IsoDateTime = string;",
        "",
    ]
    if error_codes:
        out += [
            "/** The `error.data.code` values the sidecar sends. */",
            "export type SidecarErrorCode =\n" + "\n".join(f"  | {json.dumps(c)}" for c in error_codes) + ";",
            "",
        ]
    for name in sorted(registry.schemas):
        out += [r.declaration(name), ""]

    out.append(
        "/** Every method: positional `params` (as `ipcRenderer.invoke` passes them), the same by name, "
        "and the result. */"
    )
    out.append("export interface SidecarMethods {")
    for name, spec in methods:
        params_schema = spec["params_schema"]
        props = params_schema.get("properties") or {}
        required = set(params_schema.get("required") or [])
        positional = spec.get("positional")
        if positional is None:
            positional = list(props)
        if spec.get("singleObject"):
            elements = [f"{positional[0] if positional else 'params'}: {spec['params_name']}"] if props else []
        else:
            elements = []
            for p in positional:
                t = r.type_of(props.get(p, {}), outgoing=False, indent="    ")
                elements.append(f"{p}{'' if p in required else '?'}: {t}")
        doc = one_line(spec.get("summary") or "")
        errors = spec.get("errors") or []
        if errors:
            doc = f"{doc} Errors: {', '.join(errors)}." if doc else f"Errors: {', '.join(errors)}."
        if doc:
            out.append(f"  /** {doc} */")
        out.append(f"  {json.dumps(name)}: {{")
        out.append(f"    params: [{', '.join(elements)}];")
        out.append(f"    namedParams: {spec['params_name']};")
        out.append(f"    result: {r.type_of(spec['result_schema'], outgoing=True, indent='    ')};")
        out.append(f"    errors: {' | '.join(json.dumps(e) for e in errors) if errors else 'never'};")
        out.append("  };")
    out.append("}")
    out.append("")
    out.append("export type SidecarMethod = keyof SidecarMethods;")
    out.append("")
    out.append("/** Every notification the sidecar sends, by method name, with its params. */")
    out.append("export interface SidecarNotifications {")
    for name, schema in notifications:
        out.append(f"  {json.dumps(name)}: {r.type_of(schema, outgoing=True, indent='  ')};")
    out.append("}")
    out.append("")
    out.append("export type SidecarNotification = keyof SidecarNotifications;")
    out.append("")
    return "\n".join(out), registry.warnings


def load_schemas() -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from sidecar.rpc.surface import schemas  # imported here: the sidecar is imported from the repository
    except ImportError as exc:
        raise SystemExit(
            f"gen_types: cannot import sidecar.rpc.surface.schemas ({exc}); run with the project's venv python"
        ) from exc
    return schemas()


def load_error_codes() -> list[str]:
    try:
        from sidecar.errors import ErrorCode
    except ImportError:
        return []
    return [c.value for c in ErrorCode]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the output file is not up to date")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT.relative_to(REPO_ROOT)}"
    )
    parser.add_argument("--schemas", type=Path, help="read the schemas from this JSON file instead of the sidecar")
    args = parser.parse_args(argv)

    if args.schemas:
        data = json.loads(args.schemas.read_text(encoding="utf-8"))
        codes = data.get("errorCodes") or []
    else:
        data = load_schemas()
        codes = load_error_codes()
    text, warnings = render(data, codes)
    for w in warnings:
        print(f"gen_types: warning: {w}", file=sys.stderr)

    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current == text:
            print(f"gen_types: {output} is up to date")
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(output), "generated", lineterm="", n=1)
        shown = list(diff)[:60]
        print(f"gen_types: {output} is stale; run `{REGENERATE}`. First differences:", file=sys.stderr)
        print("\n".join(shown), file=sys.stderr)
        return 1
    output.write_text(text, encoding="utf-8")
    print(f"gen_types: wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
