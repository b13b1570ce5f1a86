"""Every public name of ecs-rl has a docstring: the API reference site (docs/, mkdocstrings) is built from them.

The public API is what ``__all__`` exports in ``ecs_rl`` and its documented packages and modules (the ones the
reference pages render). For each exported class and function, and each public method and property of an
exported class (its own or one inherited from an ecs-rl base class), the docstring must say something, and
it must name every parameter (in an ``Args:`` section or in its prose; a class's ``__init__`` parameters in
the class docstring, which the site shows with the signature). The site's strict build checks the other way:
an ``Args:`` entry naming no parameter fails it.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re

import pytest

# The modules the API reference renders (docs/reference/*.md): each one's ``__all__`` is public API (a module
# without one: the classes and functions it defines under public names).
PUBLIC_MODULES = [
    "ecs_rl", "ecs_rl.core", "ecs_rl.ecs", "ecs_rl.algorithms", "ecs_rl.inference", "ecs_rl.adapters",
    "ecs_rl.games", "ecs_rl.selfplay", "ecs_rl.distributed", "ecs_rl.dashboard", "ecs_rl.scoring",
    "ecs_rl.algorithms.presets", "ecs_rl.adapters.gym_loop", "ecs_rl.adapters.parallel_env",
]


def _has_doc(obj: object) -> bool:
    """Whether ``obj`` has a docstring of its own (one inherited from a base class's method is not shown by the
    reference site, so it does not count)."""
    if isinstance(obj, property):
        obj = obj.fget
    doc = getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def _own_class_doc(cls: type) -> str | None:
    """The class's own docstring, not one that dataclasses, Enum or Protocol made up or a base class lends."""
    doc = cls.__dict__.get("__doc__")
    if not doc or not doc.strip():
        return None
    if doc.startswith(f"{cls.__name__}(") and "dataclass_fields" not in doc:  # dataclasses' made-up signature
        return None
    if issubclass(cls, enum.Enum) and doc.strip() in ("An enumeration.", ""):
        return None
    return doc


def _members(cls: type):
    """Public methods and properties of ``cls`` defined in ecs-rl (by the class itself or an ecs-rl base);
    a dataclass field whose default is a function is a field, not a method."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    for name in sorted(dir(cls)):
        if name.startswith("_") or name in fields:
            continue
        for owner in cls.__mro__:
            if name in owner.__dict__:
                break
        else:  # pragma: no cover - dir() names something no class in the MRO holds
            continue
        if not (getattr(owner, "__module__", "") or "").startswith("ecs_rl"):
            continue
        raw = owner.__dict__[name]
        if isinstance(raw, (staticmethod, classmethod)):
            raw = raw.__func__
        if isinstance(raw, property) or inspect.isfunction(raw):
            yield name, raw


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, obj in vars(module).items() if not name.startswith("_")
                 and (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module.__name__]
    return names


def undocumented(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    missing = []
    if not _has_doc(module):
        missing.append(f"{module_name} (module)")
    for name in _public_names(module):
        obj = getattr(module, name)
        where = f"{module_name}.{name}"
        if inspect.isclass(obj):
            if _own_class_doc(obj) is None:
                missing.append(where)
            if issubclass(obj, enum.Enum):
                continue
            for member, raw in _members(obj):
                if not _has_doc(raw):
                    missing.append(f"{where}.{member}")
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            if not _has_doc(obj):
                missing.append(where)
    return missing


def _parameters(fn) -> list[str]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - a builtin without a signature
        return []
    # a leading underscore is not public (Ray, once it has made an actor of a class, adds ``_ray_trace_ctx``)
    return [p.name for p in signature.parameters.values() if p.name not in ("self", "cls")
            and not p.name.startswith("_") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _unnamed(doc: str | None, names: list[str]) -> list[str]:
    return [n for n in names if not re.search(rf"(?<!\w){re.escape(n)}(?!\w)", doc or "")]


def unexplained_parameters(module_name: str) -> list[str]:
    """``qualname(param, ...)`` for each public function, method or class whose docstring leaves parameters out."""
    module = importlib.import_module(module_name)
    found = []

    def check(where: str, doc: str | None, fn) -> None:
        missing = _unnamed(doc, _parameters(fn))
        if missing:
            found.append(f"{where}({', '.join(missing)})")

    for name in _public_names(module):
        obj = getattr(module, name)
        where = f"{module_name}.{name}"
        if inspect.isclass(obj):
            init = obj.__dict__.get("__init__")
            if init is not None and not dataclasses.is_dataclass(obj) and inspect.isfunction(init):
                check(where, obj.__doc__, init)
            if issubclass(obj, enum.Enum):
                continue
            for member, raw in _members(obj):
                if inspect.isfunction(raw):
                    check(f"{where}.{member}", raw.__doc__, raw)
        elif inspect.isfunction(obj):
            check(where, obj.__doc__, obj)
    return found


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_docstring_names_its_parameters(module_name):
    missing = unexplained_parameters(module_name)
    assert not missing, f"docstrings that do not say what these parameters mean: {'; '.join(missing)}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_has_a_docstring(module_name):
    missing = undocumented(module_name)
    assert not missing, f"public names without a docstring: {', '.join(missing)}"


def test_the_check_sees_a_missing_docstring():
    # The walk itself: a class, a method and a property without docstrings are named; documented ones are not.
    import types

    mod = types.ModuleType("ecs_rl._docstring_probe")

    class Bare:
        def method(self):
            pass

        @property
        def prop(self):
            return 1

    class Told:
        """Says what it is, made from ``size``."""

        def __init__(self, size, colour=None):
            pass

        def method(self, count, *rest, **more):
            """Says what it does ``count`` times."""

    def bare_function():
        pass

    for obj in (Bare, Told, bare_function):
        obj.__module__ = mod.__name__
    mod.__doc__ = "A probe."
    mod.Bare, mod.Told, mod.bare_function = Bare, Told, bare_function
    mod.__all__ = ["Bare", "Told", "bare_function"]
    import sys

    sys.modules[mod.__name__] = mod
    try:
        assert undocumented(mod.__name__) == [
            "ecs_rl._docstring_probe.Bare", "ecs_rl._docstring_probe.Bare.method", "ecs_rl._docstring_probe.Bare.prop",
            "ecs_rl._docstring_probe.bare_function",
        ]
        # ``colour`` is named nowhere; ``count`` and ``size`` are, and *rest / **more need no words
        assert unexplained_parameters(mod.__name__) == ["ecs_rl._docstring_probe.Told(colour)"]
    finally:
        del sys.modules[mod.__name__]
