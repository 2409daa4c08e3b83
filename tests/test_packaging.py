"""What `pip install ohm` brings is enough for every module of the package.

The test extras install more than the package needs, so a missing core
dependency would not show up in any other test: it would only fail for users.
Every third-party module ``src/ohm`` imports must come from a core
dependency or from something a core dependency requires.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _optional_imports(tree: ast.AST) -> set[ast.AST]:
    """Imports inside ``try: ... except ImportError``: an optional extra, with a message when missing."""
    optional: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            for statement in node.body:
                optional.update(ast.walk(statement))
    return optional


def _imported_top_level_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "ohm").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        optional = _optional_imports(tree)
        for node in ast.walk(tree):
            if node in optional:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with what they require in turn (extras included)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = req.extras
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras or {""}):
                todo.append(sub)
    return seen


def test_every_import_of_the_package_is_a_core_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = _closure(project["dependencies"])
    providers = metadata.packages_distributions()
    missing = {}
    for module, files in _imported_top_level_modules().items():
        if module in sys.stdlib_module_names or module == "ohm" or module == "__future__":
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [module])}
        if not dists & installed:
            missing[module] = sorted(files)
    assert missing == {}, f"imported but not installed by `pip install ohm`: {missing}"
