"""Load and check every layer definition under ``layers/``, reporting problems with file and line."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tsukuba_gis.errors import DefinitionError
from tsukuba_gis.layerdef import Department, LayerDef
from tsukuba_gis.rasterdef import RasterLayerDef, raster_kind
from tsukuba_gis.reportdef import CATEGORIES_FILE, REPORTS_DEPARTMENT, CategoriesDef, CategoryDef

DEPARTMENT_FILE = "_department.yaml"
NO_ORDER = 999  # a layer of a department without a definition comes after the others


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition file."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Catalog:
    """Every valid layer definition, by id, with the departments they belong to.

    ``layers`` are the vector layers; ``rasters`` the ``kind: raster`` ones (ids are unique
    across both, ``files`` holds both); ``report_categories`` what residents may report
    (``layers/reports/_categories.yaml``, issue 17).
    """

    layers: dict[str, LayerDef] = field(default_factory=dict)
    rasters: dict[str, RasterLayerDef] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    report_categories: dict[str, CategoryDef] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def in_order(self, layers: Iterable[LayerDef]) -> list[LayerDef]:
        """The one order every listing uses: department order, then department, then layer id."""
        order = {d: dept.order for d, dept in self.departments.items()}
        return sorted(
            layers, key=lambda layer: (order.get(layer.department, NO_ORDER), layer.department, layer.id)
        )

    def public_layers(self) -> list[LayerDef]:
        """Layers the world may see."""
        return [layer for layer in self.layers.values() if layer.access == "public"]

    def public_rasters(self) -> list[RasterLayerDef]:
        """Raster layers the world may see."""
        return [layer for layer in self.rasters.values() if layer.access == "public"]

    def get(self, layer_id: str) -> LayerDef:
        """One layer by id, or a DefinitionError naming the known ids."""
        try:
            return self.layers[layer_id]
        except KeyError:
            known = ", ".join(sorted(self.layers)) or "none"
            raise DefinitionError(f"no layer {layer_id!r} in the definitions (known: {known})") from None


def _node_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (or its nearest parent)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == key]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _parse(path: Path) -> tuple[Any, yaml.Node | None, list[Problem]]:
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text), yaml.compose(text), []
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return None, None, [Problem(path, line, f"not valid YAML: {getattr(err, 'problem', err)}")]


def _validate(model: type, path: Path, extra: dict[str, Any]) -> tuple[Any, list[Problem]]:
    data, node, problems = _parse(path)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [Problem(path, 1, "expected a mapping of keys to values")]
    # Data from the YAML wins, so a mismatch with the folder is reported, not overwritten.
    data = {**extra, **data}
    try:
        return model.model_validate(data), []
    except ValidationError as err:
        found = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(file)"
            # pydantic's loc for `source:` is `sources`; point at what the author wrote.
            loc = tuple("source" if p == "sources" and "source" in data else p for p in e["loc"])
            found.append(Problem(path, _node_line(node, loc), f"{where}: {e['msg']}"))
        return None, found


def _check_sources(layer: LayerDef | RasterLayerDef, path: Path, sources_dir: Path) -> list[Problem]:
    problems = []
    for i, source in enumerate(layer.sources):
        if getattr(source, "is_glob", False):
            if not any(p.is_file() for p in sources_dir.glob(source.path)):
                problems.append(
                    Problem(path, 1, f"sources[{i}]: no file matches {sources_dir / source.path}")
                )
        elif not (sources_dir / source.path).exists():
            problems.append(Problem(path, 1, f"sources[{i}]: file not found: {sources_dir / source.path}"))
    return problems


def load_catalog(layers_dir: Path, sources_dir: Path | None = None) -> Catalog:
    """Read every definition; keep the valid ones and collect every problem.

    Examples
    --------
    >>> catalog = load_catalog(Path("layers"))
    >>> [str(p) for p in catalog.problems]
    []
    """
    catalog = Catalog()
    if not layers_dir.is_dir():
        catalog.problems.append(Problem(layers_dir, 0, "layers directory not found"))
        return catalog
    for dept_dir in sorted(p for p in layers_dir.iterdir() if p.is_dir()):
        dept_file = dept_dir / DEPARTMENT_FILE
        if not dept_file.exists():
            catalog.problems.append(Problem(dept_file, 0, "missing: every department folder needs one"))
            continue
        dept, problems = _validate(Department, dept_file, {"id": dept_dir.name})
        catalog.problems += problems
        if dept is not None:
            if dept.id != dept_dir.name:
                catalog.problems.append(Problem(dept_file, 1, f"id {dept.id!r} differs from the folder name"))
            catalog.departments[dept_dir.name] = dept
        for path in sorted(dept_dir.glob("*.yaml")):
            if path.name not in (DEPARTMENT_FILE, CATEGORIES_FILE):
                _add_layer(catalog, path, dept_dir.name, sources_dir)
    _add_categories(catalog, layers_dir / REPORTS_DEPARTMENT / CATEGORIES_FILE)
    _check_editors(catalog)
    return catalog


def _check_editors(catalog: Catalog) -> None:
    """Every department named as editor of a layer exists (a typo would lock its staff out)."""
    for layer in catalog.layers.values():
        unknown = [d for d in layer.editors if d not in catalog.departments]
        if unknown:
            known = ", ".join(sorted(catalog.departments))
            catalog.problems.append(
                Problem(
                    catalog.files[layer.id],
                    1,
                    f"editable.departments: no department {', '.join(unknown)} (known: {known})",
                )
            )


def _add_categories(catalog: Catalog, path: Path) -> None:
    """The report categories, each routed to a department that exists."""
    if not path.exists():
        return
    found, problems = _validate(CategoriesDef, path, {})
    catalog.problems += problems
    if found is None:
        return
    _, node, _ = _parse(path)
    for i, category in enumerate(found.categories):
        if category.department not in catalog.departments:
            known = ", ".join(sorted(catalog.departments))
            line = _node_line(node, ("categories", i, "department"))
            message = f"categories.{i}.department: no department {category.department!r} (known: {known})"
            catalog.problems.append(Problem(path, line, message))
        else:
            catalog.report_categories[category.id] = category


_CACHE: dict[Path, tuple[tuple, Catalog]] = {}


def catalog_signature(layers_dir: Path) -> tuple:
    """(path, mtime, size) of every definition file: changes whenever a definition does."""
    if not layers_dir.is_dir():
        return ()
    return tuple(
        sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in layers_dir.glob("*/*.yaml"))
    )


def cached_catalog(layers_dir: Path) -> Catalog:
    """The catalog, re-read only when a definition file changed (the server asks per request).

    A stat of each file costs microseconds; parsing and validating every YAML costs a hundred
    milliseconds or more, which the viewer's first request would otherwise wait for.
    """
    signature = catalog_signature(layers_dir)
    hit = _CACHE.get(layers_dir)
    if hit is None or hit[0] != signature:
        hit = _CACHE[layers_dir] = (signature, load_catalog(layers_dir))
    return hit[1]


def _add_layer(catalog: Catalog, path: Path, department: str, sources_dir: Path | None) -> None:
    data, _, _ = _parse(path)  # YAML errors are reported by _validate below
    model = RasterLayerDef if raster_kind(data) else LayerDef
    layer, problems = _validate(model, path, {"department": department, "id": path.stem})
    catalog.problems += problems
    if layer is None:
        return
    if layer.id != path.stem:
        catalog.problems.append(Problem(path, 1, f"id {layer.id!r} differs from the file name"))
    if layer.department != department:
        catalog.problems.append(Problem(path, 1, f"department {layer.department!r} differs from the folder"))
    if layer.id in catalog.files:
        first = catalog.files[layer.id]
        catalog.problems.append(Problem(path, 1, f"layer id {layer.id!r} is already defined in {first}"))
        return
    if sources_dir is not None:
        catalog.problems += _check_sources(layer, path, sources_dir)
    if isinstance(layer, RasterLayerDef):
        catalog.rasters[layer.id] = layer
    else:
        catalog.layers[layer.id] = layer
    catalog.files[layer.id] = path
