"""The package's imports run one way: model → sources | store → ingest → analysis → apps.

Walks every import in ``frontline/`` (module level and inside functions) and fails on one that reaches a higher
layer, naming the file, line and both layers. Sources and the store are side by side: neither imports the other
(sources make model objects, the store stores them, ingest joins the two).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "frontline"

# (layer name, rank, module prefixes). A module may import its own group or a group of lower rank.
LAYERS = [
    (
        "model",
        0,
        [
            "frontline",
            "frontline._http",
            "frontline._progress",
            "frontline.errors",
            "frontline.times",
            "frontline.geodesy",
            "frontline.model",
            "frontline.borders",
            "frontline.names",
            "frontline.normalise",
            "frontline.reference",
        ],
    ),
    ("sources", 1, ["frontline.sources"]),
    ("store", 1, ["frontline.store"]),
    ("ingest", 2, ["frontline.ingest", "frontline.live_pull", "frontline.state"]),
    ("analysis", 3, ["frontline.analysis", "frontline.export", "frontline.tak"]),
    (
        "apps",
        4,
        [
            "frontline.alerts",
            "frontline.watch",
            "frontline.demo",
            "frontline.cli",
            "frontline.web",
            "frontline.report",
            "frontline.notebook",
            "frontline.__main__",
        ],
    ),
]

# The one exception, a facade: the package root's ``frontline.open`` hands notebooks the apps layer's store
# facade, imported only when called (and for type hints). Nothing else in the model layer may reach higher.
FACADE = {("frontline", "frontline.notebook")}


def _layer(module: str) -> tuple[str, int]:
    best = None
    for name, rank, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[2]):
                best = (name, rank, len(p))
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best[0], best[1]


def _module_of(path: Path) -> tuple[str, str]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    mod = ".".join(parts)
    return mod, (mod if is_pkg else mod.rsplit(".", 1)[0])


def _imports(path: Path):
    mod, pkg = _module_of(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            if target.startswith("frontline"):
                # "from . import deepstate" names a module: judge the module, not the package
                for n in names:
                    sub = f"{target}.{n}"
                    yield (
                        node.lineno,
                        sub
                        if (ROOT.parent / Path(*sub.split("."))).exists()
                        or (ROOT.parent / Path(*sub.split("."))).with_suffix(".py").exists()
                        else target,
                    )
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("frontline"):
                    yield node.lineno, a.name


def test_no_import_reaches_a_higher_layer():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        mod, _ = _module_of(path)
        src_name, src_rank = _layer(mod)
        for line, target in _imports(path):
            dst_name, dst_rank = _layer(target)
            if dst_name == src_name or dst_rank < src_rank or (mod, target) in FACADE:
                continue
            bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {mod} ({src_name}) imports {target} ({dst_name})")
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def test_every_module_is_in_a_layer():
    for path in ROOT.rglob("*.py"):
        _layer(_module_of(path)[0])
