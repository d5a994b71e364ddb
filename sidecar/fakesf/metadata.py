"""Components of a source directory, counted the way a deploy counts them (a class and its -meta.xml are one).

The fake deploy needs believable component counts and names for its progress lines, successes and failures, so it
reads the files under --source-dir and groups them into (type, fullName) components by the same conventions as the
real source format: suffixes, `-meta.xml` companions, and `lwc`/`aura` bundle folders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SUFFIX_TYPES = {
    "cls": "ApexClass",
    "trigger": "ApexTrigger",
    "page": "ApexPage",
    "component": "ApexComponent",
    "object": "CustomObject",
    "field": "CustomField",
    "recordType": "RecordType",
    "listView": "ListView",
    "validationRule": "ValidationRule",
    "compactLayout": "CompactLayout",
    "webLink": "WebLink",
    "layout": "Layout",
    "permissionset": "PermissionSet",
    "permissionsetgroup": "PermissionSetGroup",
    "profile": "Profile",
    "flow": "Flow",
    "tab": "CustomTab",
    "app": "CustomApplication",
    "flexipage": "FlexiPage",
    "labels": "CustomLabels",
    "resource": "StaticResource",
    "email": "EmailTemplate",
    "globalValueSet": "GlobalValueSet",
    "md": "CustomMetadata",
    "quickAction": "QuickAction",
    "remoteSite": "RemoteSiteSetting",
    "customPermission": "CustomPermission",
    "settings": "Settings",
    "namedCredential": "NamedCredential",
}
BUNDLE_TYPES = {"lwc": "LightningComponentBundle", "aura": "AuraDefinitionBundle"}
META = "-meta.xml"


@dataclass
class Component:
    """One metadata component: its type, full name, local files and the path the Metadata API reports."""

    type: str
    full_name: str
    api_path: str
    files: list[str] = field(default_factory=list)


def scan(paths: list[str]) -> list[Component]:
    """All components under `paths` (directories or single files), in a stable order, each listed once."""
    found: dict[tuple[str, str], Component] = {}
    for raw in paths:
        root = Path(raw).resolve()
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            relative = path.relative_to(root) if path != root else Path(path.name)
            if any(part.startswith(".") for part in relative.parts):
                continue
            identity = _identify(path)
            if identity is None:
                continue
            kind, full_name, api_path = identity
            component = found.setdefault((kind, full_name), Component(kind, full_name, api_path))
            component.files.append(str(path))
    return list(found.values())


def _identify(path: Path) -> tuple[str, str, str] | None:
    parents = path.parts[:-1]
    for folder, kind in BUNDLE_TYPES.items():
        if folder in parents:
            index = len(parents) - 1 - parents[::-1].index(folder)
            if index + 1 >= len(parents):
                return None  # jsconfig.json and friends directly under lwc/
            bundle = parents[index + 1]
            return kind, bundle, f"{folder}/{bundle}/{path.name}"
    name = path.name
    if name.endswith(META):
        stem = name[: -len(META)]
    elif (path.parent / (name + META)).exists():
        stem = name
    elif path.parent.name == "staticresources":
        return "StaticResource", name.split(".")[0], f"staticresources/{name.split('.')[0]}.resource"
    elif name.rsplit(".", 1)[-1] in ("cls", "trigger", "page", "component"):
        stem = name
    else:
        return None
    base, dot, suffix = stem.rpartition(".")
    if not dot:
        return None
    kind = SUFFIX_TYPES.get(suffix) or suffix[:1].upper() + suffix[1:]
    full_name = base
    if "objects" in parents and kind != "CustomObject":
        obj_index = len(parents) - 1 - parents[::-1].index("objects")
        if obj_index + 1 < len(parents):
            full_name = f"{parents[obj_index + 1]}.{base}"
    return kind, full_name, f"{path.parent.name}/{stem}"
