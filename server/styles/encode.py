"""The city's cartography in three style languages, from the ``style:`` of ``layers/``.

The viewer draws each layer from the same ``StyleDef`` (colour, fill, opacity, line weight,
point radius, dash, and ``by`` + ``categories`` for a categorised layer), so every client sees
the same map: MapLibre/Mapbox GL style JSON (over the vector tiles), SLD 1.0 and QGIS QML
(per layer), and a legend. Nothing here fetches anything: no glyphs, sprites or base map.
"""

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tsukuba_gis.layerdef import LayerDef, StyleDef
from tsukuba_gis.tiles.rules import TileSet

OTHER = {"ja": "その他", "en": "Other"}
MAP_STYLE = "city"  # the whole map (``/styles/city``)
LAYER_STYLE = "default"  # each collection's (``/collections/{id}/styles/default``)


def _fill(style: StyleDef) -> str:
    return style.fill_color or style.color


def _dash(style: StyleDef) -> list[float]:
    return [float(v) for v in style.dash.split()] if style.dash else []


def legend(layer: LayerDef, lang: str = "ja") -> list[dict[str, Any]]:
    """Legend entries (label, colours) in drawing order."""
    style = layer.style
    title = getattr(layer.title, lang)
    base = {"stroke": style.color, "fill": _fill(style), "fill_opacity": style.fill_opacity}
    if not style.by or not style.categories:
        return [{"label": title, **base}]
    entries = [
        {
            "label": getattr(c.label, lang) if c.label else str(c.value),
            "value": c.value,
            **base,
            "fill": c.color,
        }
        for c in style.categories
    ]
    return entries + [{"label": OTHER[lang], **base}]


# -- MapLibre / Mapbox GL ---------------------------------------------------------------------


def _color(style: StyleDef, fallback: str) -> Any:
    if not style.by or not style.categories:
        return fallback
    expression: list[Any] = ["match", ["get", style.by]]
    for category in style.categories:
        expression += [category.value, category.color]
    return [*expression, fallback]


def gl_layers(layer: LayerDef) -> list[dict[str, Any]]:
    """The style layers of one collection (its vector tile layer has the layer's id)."""
    style, source = layer.style, layer.id
    common = {"source": source, "source-layer": layer.id, "metadata": {"title": layer.title.ja}}
    if layer.geometry == "point":
        paint = {
            "circle-color": _color(style, _fill(style)),
            "circle-radius": style.radius,
            "circle-stroke-color": style.color,
            "circle-stroke-width": min(style.weight, style.radius / 2),
            "circle-opacity": 0.9,
        }
        return [{"id": layer.id, "type": "circle", **common, "paint": paint}]
    line: dict[str, Any] = {"line-color": style.color, "line-width": style.weight}
    if style.dash and style.weight:
        line["line-dasharray"] = [v / style.weight for v in _dash(style)]
    outline = {"id": f"{layer.id}-line", "type": "line", **common, "paint": line}
    if layer.geometry == "line":
        outline["paint"]["line-color"] = _color(style, style.color)
        return [outline]
    fill = {"fill-color": _color(style, _fill(style)), "fill-opacity": style.fill_opacity}
    return [{"id": f"{layer.id}-fill", "type": "fill", **common, "paint": fill}, outline]


def gl_style(name: str, tilesets: list[TileSet], template: Any) -> dict[str, Any]:
    """A MapLibre/Mapbox GL style (v8) of these layers, bottom first; ``template(layer_id)``
    gives a layer's tile URL template ({z}/{y}/{x})."""
    sources, layers = {}, []
    for tileset in tilesets:
        spec = tileset.spec
        sources[spec.layer_id] = {
            "type": "vector",
            "tiles": [template(spec.layer_id)],
            "minzoom": spec.minzoom,
            "maxzoom": spec.maxzoom,
            "bounds": list(spec.bounds),
            "attribution": tileset.layer.license.attribution.ja,
        }
        layers += gl_layers(tileset.layer)
    west = min((t.spec.bounds[0] for t in tilesets), default=140.0)
    south = min((t.spec.bounds[1] for t in tilesets), default=36.0)
    east = max((t.spec.bounds[2] for t in tilesets), default=140.2)
    north = max((t.spec.bounds[3] for t in tilesets), default=36.2)
    return {
        "version": 8,
        "name": name,
        "center": [(west + east) / 2, (south + north) / 2],
        "zoom": 11,
        "sources": sources,
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": "#f6f8fa"}},
            *layers,
        ],
    }


# -- SLD 1.0 ----------------------------------------------------------------------------------


def _sld_stroke(style: StyleDef) -> str:
    dash = f'<CssParameter name="stroke-dasharray">{" ".join(str(v) for v in _dash(style))}</CssParameter>'
    width = f'<CssParameter name="stroke-width">{style.weight}</CssParameter>'
    color = f'<CssParameter name="stroke">{style.color}</CssParameter>'
    return f"<Stroke>{color}{width}{dash if style.dash else ''}</Stroke>"


def _sld_symbolizer(layer: LayerDef, fill: str) -> str:
    style = layer.style
    filling = (
        f'<Fill><CssParameter name="fill">{fill}</CssParameter>'
        f'<CssParameter name="fill-opacity">{style.fill_opacity}</CssParameter></Fill>'
    )
    if layer.geometry == "point":
        mark = f"<Mark><WellKnownName>circle</WellKnownName>{filling}{_sld_stroke(style)}</Mark>"
        return f"<PointSymbolizer><Graphic>{mark}<Size>{2 * style.radius}</Size></Graphic></PointSymbolizer>"
    if layer.geometry == "line":
        return f"<LineSymbolizer>{_sld_stroke(style)}</LineSymbolizer>"
    return f"<PolygonSymbolizer>{filling}{_sld_stroke(style)}</PolygonSymbolizer>"


def _sld_rule(title: str, symbolizer: str, condition: str = "") -> str:
    return f"<Rule><Name>{escape(title)}</Name><Title>{escape(title)}</Title>{condition}{symbolizer}</Rule>"


def sld(layer: LayerDef) -> str:
    """SLD 1.0 (StyledLayerDescriptor) of one layer, one rule per category."""
    style = layer.style
    if style.by and style.categories:
        rules = []
        for category, entry in zip(style.categories, legend(layer), strict=False):
            condition = (
                "<ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>"
                f"{escape(style.by)}</ogc:PropertyName><ogc:Literal>{escape(str(category.value))}</ogc:Literal>"
                "</ogc:PropertyIsEqualTo></ogc:Filter>"
            )
            rules.append(_sld_rule(entry["label"], _sld_symbolizer(layer, category.color), condition))
        rules.append(_sld_rule(OTHER["ja"], _sld_symbolizer(layer, _fill(style)), "<ElseFilter/>"))
    else:
        rules = [_sld_rule(layer.title.ja, _sld_symbolizer(layer, _fill(style)))]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"'
        ' xmlns:ogc="http://www.opengis.net/ogc" xmlns:xlink="http://www.w3.org/1999/xlink"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://www.opengis.net/sld StyledLayerDescriptor.xsd">'
        f"<NamedLayer><Name>{escape(layer.id)}</Name><UserStyle><Name>default</Name>"
        f"<Title>{escape(layer.title.ja)} / {escape(layer.title.en)}</Title>"
        f"<FeatureTypeStyle>{''.join(rules)}</FeatureTypeStyle></UserStyle></NamedLayer>"
        "</StyledLayerDescriptor>\n"
    )


# -- QGIS QML ---------------------------------------------------------------------------------


def _rgba(color: str, opacity: float = 1.0) -> str:
    value = color.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{red},{green},{blue},{round(255 * opacity)}"


def _props(values: dict[str, Any]) -> str:
    return "".join(f"<prop k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in values.items())


def _qml_symbol(layer: LayerDef, name: str, fill: str) -> str:
    style = layer.style
    dash = (
        {"use_custom_dash": "1", "customdash": ";".join(str(v) for v in _dash(style))} if style.dash else {}
    )
    stroke = {
        "outline_color": _rgba(style.color),
        "outline_width": style.weight * 0.26,
        "outline_width_unit": "MM",
    }
    if layer.geometry == "point":
        kind, klass = "marker", "SimpleMarker"
        props = {
            "name": "circle",
            "color": _rgba(fill, 0.9),
            "size": 2 * style.radius * 0.26,
            "size_unit": "MM",
        }
        props |= stroke
    elif layer.geometry == "line":
        kind, klass = "line", "SimpleLine"
        props = {
            "line_color": _rgba(fill),
            "line_width": style.weight * 0.26,
            "line_width_unit": "MM",
            **dash,
        }
    else:
        kind, klass = "fill", "SimpleFill"
        props = {"color": _rgba(fill, style.fill_opacity), "style": "solid", **stroke}
        if style.dash:
            props["outline_style"] = "dash"
    return (
        f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{klass}" enabled="1" locked="0" pass="0">{_props(props)}</layer></symbol>'
    )


def qml(layer: LayerDef) -> str:
    """A QGIS layer style (QML, symbology) of one layer: single or categorised symbols."""
    style = layer.style
    if style.by and style.categories:
        entries = legend(layer)
        symbols = [_qml_symbol(layer, str(i), c.color) for i, c in enumerate(style.categories)]
        symbols.append(_qml_symbol(layer, str(len(style.categories)), _fill(style)))
        categories = [
            f"<category value={quoteattr(str(c.value))} symbol={quoteattr(str(i))}"
            f' label={quoteattr(entries[i]["label"])} render="true"/>'
            for i, c in enumerate(style.categories)
        ]
        other = quoteattr(str(len(style.categories)))
        categories.append(f'<category value="" symbol={other} label="{OTHER["ja"]}" render="true"/>')
        renderer = (
            f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.by)}'
            ' symbollevels="0" enableorderby="0">'
            f"<categories>{''.join(categories)}</categories><symbols>{''.join(symbols)}</symbols></renderer-v2>"
        )
    else:
        renderer = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0">'
            f"<symbols>{_qml_symbol(layer, '0', _fill(style))}</symbols></renderer-v2>"
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="3.22" styleCategories="Symbology">{renderer}</qgis>\n'
    )
