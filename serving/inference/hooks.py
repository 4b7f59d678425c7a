"""Finding a user's inference script and adapting its hooks to one calling convention.

The hooks are those of AWS's scikit-learn container: `model_fn`, `input_fn`,
`predict_fn`, `output_fn` or `transform_fn`. As in AWS's toolkit, each may take one
extra trailing `context` argument; we look at the signature once, at load time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from serving.errors import ModelLoadError

log = logging.getLogger(__name__)

# Hook name -> number of arguments without the optional context.
HOOK_ARITY = {
    "model_fn": 1,
    "input_fn": 2,
    "predict_fn": 2,
    "output_fn": 2,
    "transform_fn": 4,
}

Hook = Callable[..., Any]


def load_module(code_dir: Path, program: str) -> ModuleType | None:
    """Import `program` from `code_dir`, or return None when there is no such script."""
    name = program[:-3] if program.endswith(".py") else program
    path = code_dir / f"{name}.py"
    if not path.is_file():
        return None
    # Each script gets its own module name, so two models with an inference.py each
    # never share one module object.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"_user_{name}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Helper modules next to the script must be importable from it.
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ModelLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    sys.modules[module_name] = module
    log.info("loaded user module %s", path)
    return module


def _positional(fn: Hook) -> tuple[int, int, bool]:
    """(positional parameters, required ones, takes *args) of a callable."""
    params = inspect.signature(fn).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in params if p.kind in kinds]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    return len(positional), len(required), varargs


def adapt(fn: Hook, name: str) -> Hook:
    """Wrap a hook so it is always called as hook(*args, context)."""
    arity = HOOK_ARITY[name]
    try:
        count, required, varargs = _positional(fn)
    except (TypeError, ValueError):
        return lambda *args: fn(*args[:-1])
    if count == arity + 1:
        return fn
    if (count >= arity or varargs) and required <= arity:
        return lambda *args: fn(*args[:-1])
    raise ModelLoadError(
        f"{name} takes {count} arguments; it must take {arity} "
        f"(or {arity + 1} with a trailing context argument)"
    )


def user_hooks(module: ModuleType | None) -> dict[str, Hook]:
    """The hooks a module defines, adapted; refuses combinations that cannot work."""
    if module is None:
        return {}
    found = {name: getattr(module, name) for name in HOOK_ARITY if callable(getattr(module, name, None))}
    if "transform_fn" in found:
        clash = sorted(set(found) & {"input_fn", "predict_fn", "output_fn"})
        if clash:
            raise ModelLoadError(
                f"{module.__file__} defines transform_fn and {', '.join(clash)}: "
                "transform_fn replaces input_fn, predict_fn and output_fn, so define "
                "either transform_fn or those"
            )
    return {name: adapt(fn, name) for name, fn in found.items()}
