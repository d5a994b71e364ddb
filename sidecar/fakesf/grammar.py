"""The real CLI's grammar (sidecar/sf/grammar.py), loaded by file path.

The launcher runs the fake without importing the enclosing `sidecar` package (no venv, only the standard library),
so the grammar module, itself standard library only, is loaded from its file beside this package.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_NAME = "fakesf_sf_grammar"


def _load() -> ModuleType:
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    path = Path(__file__).resolve().parent.parent / "sf" / "grammar.py"
    spec = importlib.util.spec_from_file_location(_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the CLI grammar from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


grammar = _load()
