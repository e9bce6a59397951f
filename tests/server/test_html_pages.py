"""The city's own HTML pages (issue 14): field labels as column heads in the page's language,
empty cells for null and はい/いいえ for booleans (never Python's None/True), a real text
direction, no "higher limits" warning, and HTML for the tile set and tile matrix set pages.
On both stores (the items pages read the store)."""

import re

import httpx
import pytest

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT

CATALOG = load_catalog(PROJECT_ROOT / "layers")
LAYER = "emergency_sites"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//(?!127\.0\.0\.1)""", re.I)


@pytest.fixture(scope="module")
def client(each_live_server):
    with httpx.Client(base_url=each_live_server.url, timeout=60) as client:
        yield client


def _cells(html: str, tag: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", html, re.S)
    ]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_items_page_heads_are_the_definitions_labels(client, lang):
    html = client.get(f"/api/collections/{LAYER}/items", params={"f": "html", "lang": lang}).text
    heads = _cells(html, "th")
    public = [f for f in CATALOG.get(LAYER).fields if f.name in re.findall(r'data-label="([^"]+)"', html)]
    assert public, heads
    for field in public:
        assert getattr(field.label, lang) in heads, (field.name, heads)
    assert f'<html lang="{lang}" dir="ltr"' in html
    assert "Higher limits" not in html


@pytest.mark.parametrize("path", [f"/api/collections/{LAYER}/items", "/api/collections/shelters/items"])
def test_no_python_values_in_cells(client, path):
    html = client.get(path, params={"f": "html", "limit": 200}).text
    cells = _cells(html, "td")
    assert cells and not {"None", "True", "False"} & set(cells)
    if path.endswith(f"{LAYER}/items"):
        assert "はい" in cells  # the hazard flags are booleans
    first = re.search(rf'href="[^"]*/collections/{LAYER}/items/([^"?]+)"', html)
    if first:
        item = client.get(f"/api/collections/{LAYER}/items/{first.group(1)}", params={"f": "html"}).text
        item_cells = _cells(item, "td")
        assert not {"None", "True", "False"} & set(item_cells)
        assert CATALOG.get(LAYER).fields[0].label.ja in item_cells


@pytest.mark.parametrize(
    "path",
    [
        f"/api/collections/{LAYER}/tiles/WebMercatorQuad",
        "/api/tileMatrixSets/WebMercatorQuad",
        "/api/tileMatrixSets",
        f"/api/collections/{LAYER}/tiles",
    ],
)
def test_tile_pages_answer_html(client, path):
    response = client.get(path, params={"f": "html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "WebMercatorQuad" in response.text
    assert not EXTERNAL.findall(response.text.split("<footer")[0].split("</head>")[0])
    assert "html5shiv" not in response.text  # pygeoapi's own template (a CDN script) is not used


@pytest.mark.parametrize(
    "path",
    [
        f"/api/collections/{LAYER}/tiles/Nope",
        "/api/tileMatrixSets/Nope",
        "/api/collections/nope/tiles/WebMercatorQuad",
    ],
)
def test_unknown_tile_pages_are_404(client, path):
    response = client.get(path, params={"f": "html"})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


@pytest.mark.parametrize(
    "lang, present, absent",
    [
        ("ja", ["ホーム", "表示件数", "コレクション"], [">Home<", "Limit:"]),
        ("en", ["Home", "Limit"], ["ホーム", "表示件数"]),
    ],
)
def test_chrome_is_japanese_first_english_on_request(client, lang, present, absent):
    """pygeoapi's own words (breadcrumbs, the limit selector) come from our catalogue
    (server/ogcapi/locale/ja.po): Japanese by default, English with lang=en."""
    params = {"f": "html"} if lang == "ja" else {"f": "html", "lang": "en"}
    html = client.get(f"/api/collections/{LAYER}/items", params=params).text
    for text in present:
        assert text in html, text
    for text in absent:
        assert text not in html, text
