"""pygeoapi's HTML pages must load nothing from the internet (LGWAN).

Every pygeoapi template that loads a script / stylesheet / font / image from an external
host is overridden in ``server/ogcapi/templates``; the overrides load assets from
``<app root>/vendor/<npm package>/...`` or ``{server.url}/static/...`` only.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pygeoapi
import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = REPO / "server" / "ogcapi" / "templates"
OUR_STATIC = REPO / "server" / "ogcapi" / "static"
UPSTREAM = Path(pygeoapi.__file__).resolve().parent / "templates"
UPSTREAM_STATIC = Path(pygeoapi.__file__).resolve().parent / "static"
NODE_MODULES = REPO / "viewer" / "node_modules"

HELPER = "_local_assets.html"  # ours, not an override

# An external URL the browser would *load*: src/href/url()/@import/srcset pointing at
# another host (http(s):// or protocol-relative //host).
EXTERNAL_LOAD = re.compile(
    r"""(?:\bsrc|\bhref|\bsrcset|\baction|\bdata)\s*=\s*["']\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""",
    re.I,
)
# Loads of scripts/styles/fonts/images specifically (what pygeoapi pulls from CDNs).
EXTERNAL_ASSET = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*https?://|@import\s+(?:url\()?\s*["']?\s*https?://""",
    re.I | re.S,
)

# Any http(s) text left in our overrides must be one of these (why: never fetched).
ALLOWED_URL_TEXT = [
    # OGC link-relation identifiers compared with link['rel'] (names, not fetched)
    re.compile(r"http://www\.opengis\.net/def/rel/"),
    # schema.org microdata / JSON-LD vocabulary names (itemtype, @context prefix)
    re.compile(r"https?://schema\.org/"),
]

JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
HTML_COMMENT = re.compile(r"<!--(?!\[if).*?-->", re.S)  # conditional comments are live


def templates(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".html", ".jsonld", ".j2", ".xml")
    }


def overrides() -> dict[str, str]:
    return {name: text for name, text in templates(OURS).items() if name != HELPER}


# Overrides written anew, not copies changed where they load assets: the JSON-LD items page is
# the whole document through to_json (server/ogcapi/templates/collections/items/index.jsonld).
REWRITTEN = {"collections/items/index.jsonld"}


def asset_overrides() -> dict[str, str]:
    return {name: text for name, text in overrides().items() if name not in REWRITTEN}


# ---------------------------------------------------------------------------------------
# static scan
# ---------------------------------------------------------------------------------------
# pygeoapi pages of APIs this product never routes (server/ogcapi/routes.py): no override, since
# nothing can render them (test_pages_of_unrouted_apis_are_not_served proves it).
NOT_ROUTED_TEMPLATES = {
    "asyncapi.html",
    "collections/edr/query.html",
    "stac/collection_base.html",
    "stac/item.html",
}


def test_every_upstream_template_loading_external_assets_is_overridden():
    upstream = templates(UPSTREAM)
    loading = {name for name, text in upstream.items() if EXTERNAL_ASSET.search(JINJA_COMMENT.sub("", text))}
    assert "_base.html" in loading and "openapi/swagger.html" in loading  # scan works
    missing = loading - set(overrides()) - NOT_ROUTED_TEMPLATES
    assert not missing, f"pygeoapi templates loading CDN assets without override: {missing}"


def test_overrides_correspond_to_upstream_templates():
    upstream = templates(UPSTREAM)
    assert set(overrides()) <= set(upstream)


@pytest.mark.parametrize("name", sorted(templates(OURS)))
def test_override_loads_nothing_from_outside(name):
    text = JINJA_COMMENT.sub("", (OURS / name).read_text(encoding="utf-8"))
    assert not EXTERNAL_LOAD.search(text), EXTERNAL_LOAD.search(text).group(0)
    for needle in ("unpkg.com", "cdnjs", "jsdelivr", "googleapis", "gstatic", "html5shiv", "@latest"):
        assert needle not in text, needle
    for m in re.finditer(r"https?://[^\s\"'<>)]+", text):
        assert any(p.match(m.group(0)) for p in ALLOWED_URL_TEXT), m.group(0)


# Upstream lines changed on purpose for the city's own pages (issue 14): field labels as column
# heads, empty cells for null, no "higher limits" warning, a real text direction.
LOCALISED = {
    "_base.html": ('dir="{% trans %}text_direction{% endtrans %}"',),
    "collections/items/index.html": (
        "Warning: Higher limits not recommended!",
        "<th>{{ title_field }}</th>",
        "<th>{{ k | striptags }}</th>",
        "{{ ft.properties.get(prop, '') | string | truncate( 35 ) }}",
    ),
    "collections/items/item.html": ("<td>{{ k | striptags }}</td>",),
}


@pytest.mark.parametrize("name", sorted(asset_overrides()))
def test_override_stays_close_to_upstream(name):
    """Every upstream line that does not load an external asset is still in our copy, so
    a pygeoapi upgrade that changes an overridden template is noticed here."""
    upstream = (UPSTREAM / name).read_text(encoding="utf-8")
    ours = (OURS / name).read_text(encoding="utf-8")
    assert '{% import "_local_assets.html" as local with context %}' in ours
    our_lines = {line.strip() for line in ours.splitlines()}
    deliberately_changed = (
        "https://",  # the asset lines themselves (and the pygeoapi.io links)
        "<!--[if lt IE 9]>",
        "<![endif]-->",  # html5shiv
        "<redoc spec-url=",  # ReDoc is started with Redoc.init (theme fonts)
    )
    missing = [
        line
        for line in upstream.splitlines()
        if line.strip()
        and line.strip() not in our_lines
        and not any(marker in line for marker in deliberately_changed + LOCALISED.get(name, ()))
    ]
    assert not missing, f"{name}: upstream lines not in the override: {missing}"


# ---------------------------------------------------------------------------------------
# rendering through pygeoapi.util.render_j2_template
# ---------------------------------------------------------------------------------------
def minimal_config(server_url: str, basemap: bool = True) -> dict:
    server = {
        "url": server_url,
        "encoding": "utf-8",
        "languages": ["ja", "en"],
        "limits": {"default_items": 10, "max_items": 50},
        "templates": {"path": str(OURS), "static": str(OUR_STATIC)},
    }
    if basemap:
        server["map"] = {"url": "https://tiles.lgwan.example/{z}/{x}/{y}.png", "attribution": "つくば市"}
    return {
        "server": server,
        "metadata": {
            "identification": {"title": "つくば市統合型GIS", "description": "OGC API", "keywords": ["GIS"]},
            "contact": {"email": "gis@example.invalid"},
        },
        "resources": {
            "shelters": {
                "type": "collection",
                "title": "避難所",
                "description": "指定避難所",
                "keywords": ["防災"],
                "links": [],
                "providers": [
                    {"type": "feature", "name": "GeoJSON", "data": "shelters.geojson", "id_field": "id"}
                ],
            },
        },
    }


MINIMAL_DATA = {
    "id": "shelters",
    "title": "避難所",
    "description": "指定避難所",
    "keywords": ["防災"],
    "links": [],
    "type": "FeatureCollection",
    "itemtype": "record",
    "features": [
        {
            "type": "Feature",
            "id": 1,
            "properties": {"name": "x"},
            "geometry": {"type": "Point", "coordinates": [140.11, 36.08]},
        }
    ],
    "properties": {"name": "x"},
    "geometry": {"type": "Point", "coordinates": [140.11, 36.08]},
    "collections_path": "/api/collections",
    "dataset_path": "/api/collections/shelters",
    "items_path": "/api/collections/shelters/items",
    "query_path": "/q",
    "query_type": "position",
    "extent": {"spatial": {"bbox": [[139.9, 35.9, 140.3, 36.3]]}},
    "tilesets": ["WebMercatorQuad"],
    "maxzoom": 16,
    "bounds": [139.9, 35.9, 140.3, 36.3],
    "tile_type": "vector",
    "path": "stac/shelters",
    "assets": {},
    "openapi-document-path": "/api/openapi",
    "asyncapi-document-path": "/api/asyncapi",
}


@pytest.fixture(autouse=True)
def _fresh_pygeoapi_config_cache(monkeypatch):
    # pygeoapi.l10n caches the translated configuration per locale for the whole process
    # (render_j2_template -> translate_struct(..., is_config=True)); each test renders
    # with its own config.
    from pygeoapi import l10n

    monkeypatch.setattr(l10n, "_cfg_cache", {})


def render(name: str, server_url: str, basemap: bool = True) -> str:
    from pygeoapi import l10n
    from pygeoapi.util import render_j2_template

    config = minimal_config(server_url, basemap)
    return render_j2_template(
        config, config["server"]["templates"], name, MINIMAL_DATA, l10n.str2locale("ja")
    )


# <link rel=...> values for which the browser fetches href by itself; other link
# relations (alternate, license, describedby, ...) are metadata and never loaded.
FETCHED_LINK_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "preload",
    "prefetch",
    "modulepreload",
    "manifest",
    "preconnect",
    "dns-prefetch",
    "mask-icon",
}


def loaded_urls(html: str) -> list[str]:
    """URLs the browser loads by itself: script/img/iframe/source src, <link> href of
    stylesheets/icons/preloads, CSS url()."""
    html = HTML_COMMENT.sub("", html)
    urls = re.findall(
        r"<(?:script|img|iframe|source|embed)\b[^>]*?\bsrc\s*=\s*[\"']([^\"']*)", html, re.I | re.S
    )
    for tag in re.findall(r"<link\b[^>]*>", html, re.I | re.S):
        rel = re.search(r"\brel\s*=\s*[\"']([^\"']*)", tag, re.I)
        href = re.search(r"\bhref\s*=\s*[\"']([^\"']*)", tag, re.I)
        if href and rel and set(rel.group(1).lower().split()) & FETCHED_LINK_RELS:
            urls.append(href.group(1))
    css = re.findall(r"<style\b[^>]*>(.*?)</style>", html, re.I | re.S)
    css += re.findall(r"\bstyle\s*=\s*\"([^\"]*)\"", html, re.I)
    for block in css:
        urls += re.findall(r"url\(\s*[\"']?([^\"')]+)", block, re.I)
    return urls


@pytest.mark.parametrize(
    "server_url, app_root",
    [
        ("http://127.0.0.1:8000/api", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/internal/api", "http://127.0.0.1:8000"),
        ("https://portal.example.lg.jp/tsukuba-gis/api/", "https://portal.example.lg.jp/tsukuba-gis"),
        ("https://gis.example.lg.jp/ogc", ""),  # unknown shape: root-relative /vendor
    ],
)
@pytest.mark.parametrize("name", sorted(asset_overrides()))
def test_rendered_pages_load_only_local_assets(name, server_url, app_root):
    html = render(name, server_url)
    server = server_url.rstrip("/")
    vendor = f"{app_root}/vendor/"
    urls = loaded_urls(html)
    assert urls, f"{name} loads nothing?"
    for url in urls:
        assert (
            url.startswith((vendor, f"{server}/static/", f"{server}/"))
            or (url.startswith("/") and not url.startswith("//"))
            or url.startswith("data:")
        ), url
        host = urlsplit(url).hostname
        assert host in (None, urlsplit(server).hostname), url
    assert "/vendor/" in html or name in ("_base.html",) or f"{server}/static/" in html


@pytest.mark.parametrize("name", sorted(overrides()))
def test_no_external_reference_in_rendered_page(name):
    html = HTML_COMMENT.sub("", render(name, "http://127.0.0.1:8000/api"))
    for m in re.finditer(r"(?:src|href)\s*=\s*[\"']((?:https?:)?//[^\"']+)", html):
        assert urlsplit(m.group(1)).hostname == "127.0.0.1", m.group(0)


MAP_PAGES = [
    "collections/collection.html",
    "collections/items/index.html",
    "collections/items/item.html",
    "collections/tiles/index.html",
    "collections/coverage/index.html",
]


@pytest.mark.parametrize("name", MAP_PAGES)
def test_map_pages_use_the_configured_basemap(name):
    html = render(name, "http://127.0.0.1:8000/api")
    if "L.TileLayer" not in html:
        pytest.skip("no map in this page for the minimal data")
    assert "https://tiles.lgwan.example/{z}/{x}/{y}.png" in html
    assert "つくば市" in html
    assert "openstreetmap" not in html.lower()


@pytest.mark.parametrize("name", MAP_PAGES)
def test_map_pages_work_without_basemap(name):
    html = render(name, "http://127.0.0.1:8000/api", basemap=False)
    assert "L.TileLayer(\n        ''" not in html and "tiles.lgwan.example" not in html
    script = "\n".join(re.findall(r"<script>(.*?)</script>", html, re.S))
    # no base layer is created from an empty URL, and the map still gets a max zoom
    assert not re.search(r"new L\.TileLayer\(\s*''", script)
    if "L.map(" in script and "markerClusterGroup" in script:
        assert "setMaxZoom" in script


def test_swagger_ui_does_not_call_the_online_validator():
    html = render("openapi/swagger.html", "http://127.0.0.1:8000/api")
    assert "validatorUrl: null" in html


def test_redoc_uses_system_fonts_and_blocks_remote_images():
    html = render("openapi/redoc.html", "http://127.0.0.1:8000/api")
    assert "fonts.googleapis" not in html and "system-ui" in html
    assert "img-src 'self' data: blob:" in html


# ---------------------------------------------------------------------------------------
# vendor packages and static files
# ---------------------------------------------------------------------------------------
def vendor_paths() -> set[str]:
    paths = set()
    for text in overrides().values():
        paths |= set(re.findall(r"\{\{ local\.vendor \}\}/([^\"'\s]+)", text))
    return paths


def package_of(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]


def test_vendor_packages_are_documented_with_versions():
    readme = (OURS / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([^`]+)` \| ([0-9][^ |]*) \|", readme, re.M))
    used = {package_of(p) for p in vendor_paths()}
    assert used, "no /vendor asset found"
    assert used <= set(rows), used - set(rows)
    for path in vendor_paths():
        assert path.split("/", 1 + path.startswith("@"))[-1] in readme, path


# Packages only the pages this product does not route need (Coverages, EDR, AsyncAPI, ReDoc):
# they are not installed; those pages would get a 404 from our own /vendor, never a CDN request.
NOT_ROUTED_PACKAGES = {
    "@asyncapi/react-component",
    "c3",
    "covjson-reader",
    "covutils",
    "d3",
    "leaflet-coverage",
    "redoc",
}


def test_vendor_files_exist_in_viewer_node_modules():
    """Every package the served pages load is installed, with the files and documented version."""
    readme = (OURS / "README.md").read_text(encoding="utf-8")
    versions = dict(re.findall(r"^\| `([^`]+)` \| ([0-9][^ |]*) \|", readme, re.M))
    not_installed = set()
    for path in sorted(vendor_paths()):
        package = package_of(path)
        package_dir = NODE_MODULES / package
        if not (package_dir / "package.json").is_file():
            not_installed.add(package)
            continue
        assert (NODE_MODULES / path).is_file(), f"{path} not in {package_dir}"
        installed = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
        assert installed["version"].split(".")[:2] == versions[package].split(".")[:2], (
            package,
            installed["version"],
            versions[package],
        )
    assert not_installed <= NOT_ROUTED_PACKAGES, not_installed - NOT_ROUTED_PACKAGES


def test_static_dir_is_a_superset_of_pygeoapi_static():
    upstream = {p.relative_to(UPSTREAM_STATIC).as_posix() for p in UPSTREAM_STATIC.rglob("*") if p.is_file()}
    ours = {p.relative_to(OUR_STATIC).as_posix() for p in OUR_STATIC.rglob("*") if p.is_file()}
    assert upstream <= ours, upstream - ours
    assert "js/Leaflet.ImageOverlay.OGCAPI.js" in ours


def test_static_files_load_nothing_from_outside():
    for path in OUR_STATIC.rglob("*"):
        if path.suffix in (".css", ".js", ".html"):
            text = path.read_text(encoding="utf-8")
            assert not EXTERNAL_LOAD.search(text), (path, EXTERNAL_LOAD.search(text).group(0))
            assert not re.search(r"""fetch\(\s*["']https?://""", text), path


# ---------------------------------------------------------------------------------------
# end to end: pygeoapi's own app renders the pages with our templates
# ---------------------------------------------------------------------------------------
E2E = textwrap.dedent(
    """
    import json, os, sys, tempfile
    from pathlib import Path
    import yaml
    sys.path[:0] = [sys.argv[1], str(Path(sys.argv[1]) / "tests" / "server")]
    from test_openapi_local import sample_config
    from pygeoapi.openapi import get_oas
    from server.ogcapi.openapi_local import localize

    tmp = Path(tempfile.mkdtemp())
    cfg = sample_config(tmp, server_url=sys.argv[2])
    if sys.argv[3] == "nomap":
        cfg["server"].pop("map")
    cfg["server"]["templates"] = {"path": str(Path(sys.argv[1]) / "server/ogcapi/templates"),
                                  "static": str(Path(sys.argv[1]) / "server/ogcapi/static")}
    (tmp / "cfg.yml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    oas = localize(get_oas(cfg), sys.argv[2] + "/schemas")
    (tmp / "oas.yml").write_text(yaml.safe_dump(oas, allow_unicode=True), encoding="utf-8")
    os.environ["PYGEOAPI_CONFIG"] = str(tmp / "cfg.yml")
    os.environ["PYGEOAPI_OPENAPI"] = str(tmp / "oas.yml")
    from pygeoapi.flask_app import APP
    client = APP.test_client()
    out = {}
    for path in json.loads(sys.argv[4]):
        r = client.get(path)
        out[path] = [r.status_code, r.get_data(as_text=True)]
    print("E2E-JSON" + json.dumps(out))
    """
)
E2E_PAGES = [
    "/?f=html",
    "/collections?f=html",
    "/collections/shelters?f=html",
    "/collections/shelters/items?f=html",
    "/collections/shelters/items/1?f=html",
    "/collections/catalogue/items?f=html",
    "/collections/shelters/tiles?f=html",
    "/openapi?f=html&ui=swagger",
    "/openapi?f=html&ui=redoc",
    "/conformance?f=html",
    "/static/js/Leaflet.ImageOverlay.OGCAPI.js",
]


def run_pygeoapi_pages(server_url: str, basemap: bool, tmp_path: Path) -> dict:
    script = tmp_path / "e2e.py"
    script.write_text(E2E, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYGEOAPI_")}
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            str(REPO),
            server_url,
            "map" if basemap else "nomap",
            json.dumps(E2E_PAGES),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("E2E-JSON")]
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(line[-1][len("E2E-JSON") :])


@pytest.mark.parametrize("basemap", [True, False], ids=["basemap", "no-basemap"])
def test_pygeoapi_pages_render_with_local_assets(basemap, tmp_path):
    server_url = "http://127.0.0.1:8000/internal/api"
    pages = run_pygeoapi_pages(server_url, basemap, tmp_path)
    for path, (status, body) in pages.items():
        assert status == 200, (path, body[:500])
        if not path.endswith(".js"):
            for url in loaded_urls(body):
                assert urlsplit(url).hostname in (None, "127.0.0.1"), (path, url)
    items = pages["/collections/shelters/items?f=html"][1]
    assert "http://127.0.0.1:8000/vendor/leaflet/dist/leaflet.js" in items
    assert "http://127.0.0.1:8000/vendor/leaflet.markercluster/" in items
    assert "http://127.0.0.1:8000/vendor/bootstrap/dist/css/bootstrap.min.css" in items
    assert ("/tiles/basemap/{z}/{x}/{y}.png" in items) is basemap
    assert "leaflet-draw" in pages["/collections/catalogue/items?f=html"][1]
    assert "leaflet.vectorgrid" in pages["/collections/shelters/tiles?f=html"][1]
    assert "/vendor/swagger-ui-dist/swagger-ui-bundle.js" in pages["/openapi?f=html&ui=swagger"][1]
    assert "/vendor/redoc/bundles/redoc.standalone.js" in pages["/openapi?f=html&ui=redoc"][1]
