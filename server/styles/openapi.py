"""The style paths of the OpenAPI document (their answers are set by ``server/ogcapi/contract.py``)."""

from typing import Any

from server.styles.encode import LAYER_STYLE, MAP_STYLE


def _style_id(value: str) -> dict[str, Any]:
    return {"name": "styleId", "in": "path", "required": True, "schema": {"type": "string", "enum": [value]}}


def _get(summary: str, operation: str, tags: list[str], parameters: list) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation, "tags": tags, "parameters": parameters}}


def add_style_paths(document: dict[str, Any], config: dict[str, Any]) -> None:
    """``/styles`` and ``/collections/{id}/styles`` of every collection with tiles (in place)."""
    paths, city = document["paths"], _style_id(MAP_STYLE)
    paths["/styles"] = _get("The map styles", "getStyles", ["server"], [])
    paths["/styles/{styleId}"] = _get("The city map style", "getStyle", ["server"], [city])
    paths["/styles/{styleId}/metadata"] = _get(
        "The map style's metadata", "getStyleMetadata", ["server"], [city]
    )
    for name, resource in config["resources"].items():
        if not any(p.get("type") == "tile" for p in resource.get("providers", [])):
            continue
        base, one = f"/collections/{name}/styles", _style_id(LAYER_STYLE)
        paths[base] = _get(f"The styles of {name}", f"get{name}Styles", [name], [])
        paths[f"{base}/{{styleId}}"] = _get(f"A style of {name}", f"get{name}Style", [name], [one])
        paths[f"{base}/{{styleId}}/metadata"] = _get(
            f"Style metadata of {name}", f"get{name}StyleMetadata", [name], [one]
        )
