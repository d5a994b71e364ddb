"""What makes two scratch orgs interchangeable: the scratch definition they were created from, and their Dev Hub.

An org created from one definition (edition, features, settings) may be unable to hold the metadata of a branch
that needs another, so the pool hands an agent only an org of its own shape. The shape is a hash of the definition
file's JSON *parsed and canonicalised* (keys sorted, no whitespace: reformatting the file or reordering its keys
changes nothing) together with the Dev Hub's name (the same definition on two hubs is two shapes: the orgs hold
different hubs' slots). `None` is the unknown shape of an org registered or discovered without one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHAPE_PATTERN = re.compile(r"^[0-9a-f]{20}$")
MAX_DEFINITION_BYTES = 1_000_000


class DefinitionError(ValueError):
    """The definition file cannot give a shape (missing, unreadable, not a JSON object); the message says which."""


@dataclass(frozen=True)
class Shape:
    """A shape and the definition file's name (for people: the hash says nothing to them)."""

    hash: str
    definition_name: str | None = None


def canonical(definition: Any) -> str:
    """The definition as one canonical JSON text: sorted keys, no insignificant whitespace, UTF-8 kept as is."""
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def shape_hash(definition: Any, dev_hub: str | None) -> str:
    """20 hex digits of SHA-256 over the canonical definition and the Dev Hub ("" for the CLI's default hub)."""
    text = canonical({"definition": definition, "devHub": dev_hub or ""})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def shape_of_file(path: Path, dev_hub: str | None) -> Shape:
    """The shape of the definition at `path` on `dev_hub`; DefinitionError when the file gives none."""
    try:
        if path.stat().st_size > MAX_DEFINITION_BYTES:
            raise DefinitionError(f"scratch definition {path} is larger than {MAX_DEFINITION_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(f"scratch definition {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"scratch definition {path} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"scratch definition {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DefinitionError(f"scratch definition {path} is not a JSON object")
    return Shape(shape_hash(data, dev_hub), path.name)


def fits(org_shape: str | None, wanted: str | None, allow_unknown: bool) -> bool:
    """Whether an org of `org_shape` may serve a request for `wanted` (None: any org, as before shapes)."""
    if wanted is None or org_shape == wanted:
        return True
    return org_shape is None and allow_unknown
