"""Imports a product's hook files once, while ``meshroom build`` makes the
component (componentize-py's pre-initialisation), so the decorators run at
build time and a syntax error, a failed import or a bad decorator argument
fails the build with the file and line.

Each file is compiled under its project path (``products/<p>/<file>``), so
tracebacks at run time name the product's own file. Must not run at hook
time: the sandbox has no filesystem.
"""

import ast
import importlib
import os
import sys
import types

from meshroom import _registry


def _package(name: str, path: str) -> None:
    if name in sys.modules:
        return
    pkg = types.ModuleType(name)
    pkg.__path__ = [path]
    pkg.__package__ = name
    sys.modules[name] = pkg


def _preload(source: str, shown: str) -> None:
    """Imports, now, what the file imports anywhere (also inside its
    functions): at hook time there is no filesystem to import from. A
    module that cannot be imported (``socket``…) is left to fail where the
    hook imports it, with the hook's error."""
    try:
        tree = ast.parse(source, shown)
    except SyntaxError:
        return
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    for name in sorted(names):
        if name in sys.modules or name.split(".")[0] == _registry.PRODUCT:
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - left to fail at hook time
            pass


def load(product: str, stage_dir: str, files: list) -> None:
    """``files``: (path relative to the product folder, module name,
    integration fields or None), in import order. ``stage_dir`` holds the
    copy of the product folder the build made."""
    _registry.PRODUCT = product
    _registry.STAGE = stage_dir
    # What the build machine had in its environment must not end up in the
    # component's snapshot.
    os.environ.clear()
    root = os.path.dirname(stage_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    _package(product, stage_dir)
    for rel, modname, fields in files:
        shown = f"products/{product}/{rel}"
        kind = "integration" if fields is not None else "product"
        _registry.FILES[shown] = (kind, fields, shown)
        parts = modname.split(".")
        for i in range(2, len(parts)):
            _package(".".join(parts[:i]), os.path.join(stage_dir, *parts[1:i]))
        if modname in sys.modules:
            continue
        with open(os.path.join(stage_dir, rel), encoding="utf-8") as f:
            source = f.read()
        code = compile(source, shown, "exec")
        _preload(source, shown)
        module = types.ModuleType(modname)
        module.__file__ = shown
        module.__package__ = modname.rpartition(".")[0]
        sys.modules[modname] = module
        _registry.CURRENT.append((kind, fields, shown))
        try:
            exec(code, module.__dict__)
        except BaseException:
            del sys.modules[modname]
            raise
        finally:
            _registry.CURRENT.pop()
    if root in sys.path:
        sys.path.remove(root)
