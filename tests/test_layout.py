"""The shape of the code: `matcher/` reads as the pipeline, imports point down the flow, never
back, there is no import cycle, and no module reaches into another's private names.

The graph is read from the source with `ast` (every `import` and `from ... import`, including the
ones inside functions and under TYPE_CHECKING), so a lazy import cannot hide a wrong direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The stages of the flow, in order: a module may import from its own stage and earlier ones.
STAGES = [
    "domain", "ingest", "store", "embed", "index", "score", "rank", "assemble", "assign", "export",
    "testing", "service", "demo", "evaluation", "cli",
]
TOP_LEVEL = {"__init__", "__main__"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "matcher").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    for path in sorted((ROOT / "api").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [alias.name for alias in node.names]
            submodules = [n for n in names if f"{base}.{n}" in MODULES]
            if submodules:
                out.extend((f"{base}.{n}", []) for n in submodules)
                names = [n for n in names if n not in submodules]
            out.append((base, names))
    return [(module, names) for module, names in out if module.split(".")[0] in ("matcher", "api")]


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] == "api":
        return len(STAGES) - 1  # the HTTP edge sits beside the CLI
    if len(parts) == 1 or parts[1] in TOP_LEVEL:
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else -1


def test_matcher_is_one_folder_per_stage():
    folders = sorted(p.name for p in (ROOT / "matcher").iterdir() if p.is_dir() and not p.name.startswith("__"))
    assert folders == sorted(STAGES)
    loose = sorted(p.stem for p in (ROOT / "matcher").glob("*.py") if p.stem not in TOP_LEVEL)
    assert loose == [], f"modules outside the stage folders: {loose}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _stage(n) not in (None,)))
def test_imports_point_down_the_flow(name):
    here = _stage(name)
    assert here != -1, f"{name} is in no stage folder"
    for module, _ in GRAPH[name]:
        there = _stage(module)
        if there is None:
            continue
        if module.startswith("api") and not name.startswith(("api", "matcher.cli")):
            pytest.fail(f"{name} imports the HTTP layer ({module}); only `matcher serve` may start it")
        assert there <= here, f"{name} ({STAGES[here]}) imports {module} ({STAGES[there]}), a later stage"


def test_the_core_is_importable_without_the_web_framework():
    for name, path in MODULES.items():
        if name.startswith("matcher"):
            text = path.read_text()
            assert "import fastapi" not in text and "from fastapi" not in text, name
            assert "HTTPException" not in text, name


def test_no_private_name_crosses_a_module():
    for name, imports in GRAPH.items():
        for module, names in imports:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private or module == name, f"{name} imports {private} from {module}"


def test_no_import_cycles():
    edges = {name: {m for m, _ in imports if m in MODULES and m != name} for name, imports in GRAPH.items()}
    # a package's __init__ importing its own submodules is how a package exports its names, not a cycle
    for name in edges:
        edges[name] = {m for m in edges[name] if not (MODULES[name].name == "__init__.py" and m.startswith(name + "."))}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(edges):
        if node not in seen:
            visit(node)
