"""/search on a real server: towns, facilities, coordinates, kana variants, limits, no leaks."""

import statistics
import time

import pytest

from server.placenames import fold, parse_coordinates, query_keys
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
PUBLIC = {layer.id for layer in CATALOG.public_layers()}
INTERNAL = [layer for layer in CATALOG.layers.values() if layer.access == "internal"]


@pytest.fixture(scope="module")
def client(app_client):
    return app_client  # in-process (tests/conftest.py AppClient)


def names(client, q, **params):
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [(r["name"], r["kind"]) for r in response.json()["results"]]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("研究学園", "研究学園一丁目"),
        ("吾妻", "吾妻一丁目"),
        ("吾妻１丁目", "吾妻一丁目"),  # full-width digit
        ("吾妻1", "吾妻一丁目"),  # arabic numeral for 一丁目
        ("つくば市吾妻2-3-1", "吾妻二丁目"),  # an address: city prefix and house number cut
        ("梅ヶ丘", "梅ケ丘"),  # ヶ for ケ
        ("梅が丘", "梅ケ丘"),
        ("みどりの 中央", "みどりの中央"),  # spaces
    ],
)
def test_finds_towns_with_variants(client, typed, expected):
    found = names(client, typed)
    assert (expected, "place") == found[0] or (expected, "place") in found[:5], found


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("桜中学校", "桜中学校"),
        ("桜中", "桜中学校"),
        ("ｻｸﾗ", "さくら運動公園"),  # half-width katakana
        ("サンシヤイン", "サンシャインコンフォートつくば"),  # large ヤ for small ャ
        ("鹿島アントラーズ", "（株）鹿島アントラーズＦＣ　つくばアカデミーセンター"),  # substring
        ("小学校 吾妻", "吾妻小学校"),  # words in any order
    ],
)
def test_finds_facilities(client, typed, expected):
    assert expected in [name for name, kind in names(client, typed) if kind == "facility"]


def test_ranks_exact_before_prefix_before_substring_and_places_first(client):
    body = client.get("/search", params={"q": "桜中学校"}).json()
    assert body["results"][0]["match"] == "exact"
    results = client.get("/search", params={"q": "吾妻", "limit": 50}).json()["results"]
    matches = [r["match"] for r in results]
    assert matches == sorted(matches, key=["exact", "prefix", "substring"].index)
    kinds = [k for _, k in names(client, "吾妻", limit=50)]
    assert kinds.index("facility") > kinds.index("place")


def test_result_carries_position_and_layer(client):
    result = client.get("/search", params={"q": "桜中学校"}).json()["results"][0]
    assert result["layer"] == "shelters" and result["layer_title"]["ja"] == "指定避難所"
    assert 35.9 < result["lat"] < 36.3 and 139.9 < result["lon"] < 140.2


@pytest.mark.parametrize(
    "typed",
    [
        "36.08, 140.11",
        "140.11 36.08",
        "N36.08 E140.11",
        "36°4'48\"N 140°6'36\"E",
        "北緯36度4分48秒 東経140度6分36秒",
    ],
)
def test_coordinates_in_either_order_and_dms(client, typed):
    result = client.get("/search", params={"q": typed}).json()["results"][0]
    assert result["kind"] == "coordinate"
    assert result["lat"] == pytest.approx(36.08, abs=1e-6)
    assert result["lon"] == pytest.approx(140.11, abs=1e-6)
    assert result["inside"] is True


def test_coordinates_outside_tsukuba_and_japan():
    assert parse_coordinates("35.68, 139.76") == (35.68, 139.76)  # Tokyo: parsed (inside=False)
    assert parse_coordinates("48.85, 2.35") is None  # not in Japan
    assert parse_coordinates("36.08") is None


def test_folding():
    assert fold("梅ヶ丘") == fold("梅ケ丘") == fold("梅が丘") == fold("ｳﾒｹ丘".replace("ｳﾒ", "梅"))
    assert fold("吾妻一丁目") == fold("吾妻１丁目") == fold("吾妻 1 丁目")
    assert fold("第十二") == fold("第12")
    assert fold("ツ") == fold("ッ") and fold("さくら") == fold("サクラ")
    assert query_keys("茨城県つくば市吾妻1丁目2番3号") == [fold("吾妻1丁目")]


def test_empty_and_unknown_queries(client):
    assert names(client, "") == []
    assert names(client, "   ") == []
    assert names(client, "存在しない地名xyz") == []


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 101},
        {"q": "吾妻", "limit": "0"},
        {"q": "吾妻", "limit": "51"},
        {"q": "吾妻", "limit": "ten"},
    ],
)
def test_bad_parameters_are_400_with_an_ogc_error(client, params):
    response = client.get("/search", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["description"]


def test_limit(client):
    assert len(names(client, "丁目", limit=3)) == 3


def test_nothing_internal_is_searchable(client, sample_settings):
    """Every value of every internal layer, searched: no internal layer, no internal-only text."""
    store = open_store(sample_settings.store_url)
    public_text = set()
    for layer in CATALOG.public_layers():
        record = store.current(layer.id)
        if record and layer.title_field:
            page = store.query(record, Query(select=(layer.title_field,), limit=100_000))
            public_text |= {str(p[layer.title_field]) for p in page.properties}
    assert INTERNAL
    for layer in INTERNAL:
        record = store.current(layer.id)
        page = store.query(record, Query(limit=100_000))
        values = {str(v) for props in page.properties for v in props.values() if v}
        for value in sorted(values - public_text)[:300]:
            body = client.get("/search", params={"q": value[:100], "limit": 50}).json()
            assert all(r.get("layer") != layer.id for r in body["results"]), value
            assert all(value not in r["name"] for r in body["results"] if r["kind"] != "coordinate"), value
        for value in sorted(values & public_text)[:20]:
            body = client.get("/search", params={"q": value, "limit": 50}).json()
            assert {r.get("layer") for r in body["results"]} <= PUBLIC | {None}


def test_answers_fast(client):
    client.get("/search", params={"q": "吾妻"})  # the index is built on first use
    took, server = [], []
    for q in ["研究学園", "桜", "梅ヶ丘", "36.08,140.11", "センター", "つくば市吾妻1-2"] * 5:
        started = time.perf_counter()
        body = client.get("/search", params={"q": q}).json()
        took.append((time.perf_counter() - started) * 1000)
        server.append(body["took_ms"])
    assert statistics.median(server) < 10, server
    assert statistics.median(took) < 50, took
