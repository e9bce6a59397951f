"""Change feeds (issue 16) on both stores: real ETL runs and real live edits become entries of
/feeds/changes.atom|json (read back with feedparser), per area and layer, in plain words.

The city of this module: the edit city (shelters, road areas, boundary) plus the towns, the
PLATEAU zoning, the staff-only shelter contacts and the flood sample (with its staff-only review
field), the last three loaded twice from a copy of the sources whose second edition changes the
zoning polygon's use (1 → 3), one key holder, one area's review status and another's depth rank.
"""

import shutil

import feedparser
import httpx
import jsonschema
import pyogrio
import pytest
from editcity import PASSWORD, edit_city_for
from fastapi.testclient import TestClient

from etl.runner import run_etl
from server.app import create_app
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import open_store

ZONING_GML = "planning/plateau/udx/urf/534071_urf_6697_08_op.gml"
STAFF_CSV = "disaster/shelters_staff_6677_cp932.csv"
FLOOD_GPKG = "disaster/flood_sample_6677.gpkg"
REVIEW_ONLY, REVIEW_TOO = "河川課 再照会（番号Z9）", "危機管理課 差戻し（番号K4）"
ZONE = {"lat": "35.9910", "lon": "140.1325"}  # inside the sample 用途地域 polygon
ELSEWHERE = {"lat": "36.0828", "lon": "140.1115"}  # Tsukuba Center, 10 km north
SHELTER = "E0822000085111"  # 竹園東小学校
ITEMS = "/internal/api/collections/shelters/items"
# JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) as a schema: what the spec requires and
# the types of the members used (feedparser 6.0 reads no JSON Feed).
_URL = {"type": "string", "pattern": "^https?://"}
JSON_FEED_1_1 = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string", "minLength": 1},
        "home_page_url": _URL,
        "feed_url": _URL,
        "next_url": _URL,
        "language": {"type": "string"},
        "authors": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_text"]}, {"required": ["content_html"]}],
                "properties": {
                    "id": {"type": "string"},
                    "url": _URL,
                    "external_url": _URL,
                    "title": {"type": "string"},
                    "content_text": {"type": "string"},
                    "date_published": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "patternProperties": {"^_": {"type": "object"}},
            },
        },
    },
}
ZONING_JA = "用途地域が変わりました: 第1種低層住居専用地域 → 第1種中高層住居専用地域"
ZONING_EN = "Land-use zoning changed: Category 1 low-rise residential → Category 1 mid/high-rise residential"


def _second_edition(sources) -> None:
    gml = sources / ZONING_GML
    text = gml.read_text(encoding="utf-8")
    old = 'Common_districtsAndZonesType.xml">1</urf:function>'
    assert text.count(old) == 1
    gml.write_text(text.replace(old, 'Common_districtsAndZonesType.xml">3</urf:function>'), encoding="utf-8")
    csv = sources / STAFF_CSV
    rows = csv.read_text(encoding="cp932")
    csv.write_text(rows.replace("市職員（参集者）", "学校長（鍵番号Q7）", 1), encoding="cp932")
    flood = sources / FLOOD_GPKG
    areas = pyogrio.read_dataframe(flood, layer="shinsui_sample")
    areas.loc[0, "庁内確認"] = REVIEW_ONLY  # an internal field alone: nothing for the public
    areas.loc[1, ["浸水深ランク", "庁内確認"]] = [3, REVIEW_TOO]
    flood.unlink()
    pyogrio.write_dataframe(areas, flood, layer="shinsui_sample", driver="GPKG")


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def feed_city(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"feeds-{request.param}")
    city = edit_city_for(request, root)
    sources = root / "sources"
    shutil.copytree(PROJECT_ROOT / "sources", sources)
    settings = city.settings.model_copy(update={"sources_dir": sources})
    for edition in (1, 2):
        if edition == 2:
            _second_edition(sources)
        towns = ["towns"] if edition == 1 else []  # the gazetteer's 町丁目 (town=)
        report = run_etl(settings, ["zoning", "shelters_staff", "flood_sample", *towns], quiet=True)
        assert report.ok and all(r.status == "loaded" for r in report.layers), report.layers
    return city


@pytest.fixture(scope="module")
def client(feed_city):
    settings = feed_city.settings.model_copy(update={"public_url": "http://testserver"})
    with TestClient(create_app(settings, feed_city.auth), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def opened(feed_city, client):
    """Staff of the disaster department open 竹園東小学校 (a real PATCH through the staff API)."""
    feed_city.staff()
    auth = ("kato-bousai", PASSWORD)
    read = client.get(f"{ITEMS}/{SHELTER}", params={"f": "json"}, auth=auth)
    assert read.status_code == 200, read.text
    answer = client.patch(
        f"{ITEMS}/{SHELTER}",
        json={"properties": {"status": "開設"}},
        headers={"Content-Type": "application/merge-patch+json", "If-Match": read.headers["etag"]},
        auth=auth,
    )
    assert answer.status_code == 200, answer.text
    lon, lat = read.json()["geometry"]["coordinates"]
    return {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "name": read.json()["properties"]["name"]}


def atom(client, **params) -> feedparser.FeedParserDict:
    answer = client.get("/feeds/changes.atom", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(answer.content)
    assert parsed.version == "atom10" and not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def json_feed(client, path="/feeds/changes.json", auth=None, **params) -> dict:
    answer = client.get(path, params=params, auth=auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/feed+json")
    document = answer.json()
    assert document["version"] == "https://jsonfeed.org/version/1.1" and "title" in document
    assert all({"id", "content_text"} <= set(item) for item in document["items"])
    jsonschema.validate(document, JSON_FEED_1_1)
    return document


def test_an_etl_run_changing_the_zoning_is_in_the_feed_of_that_area_only(client):
    here = atom(client, **ZONE, radius="300")
    assert [e.title for e in here.entries] == [ZONING_JA]
    entry = here.entries[0]
    assert entry.link.startswith("http://testserver/#map=17/35.9") and "&pt=35.9" in entry.link
    assert [t.term for t in entry.tags] == ["zoning"]
    assert "用途地域コード: 第1種低層住居専用地域 → 第1種中高層住居専用地域" in entry.content[0].value
    related = [link.href for link in entry.links if link.rel == "related"]
    assert related and related[0].startswith("http://testserver/api/collections/zoning/items/")
    assert client.get(related[0].removeprefix("http://testserver"), params={"f": "json"}).status_code == 200
    assert ZONING_JA not in [e.title for e in atom(client, **ELSEWHERE, radius="2000").entries]
    assert atom(client, bbox="140.13,35.98,140.14,35.995", layer="zoning").entries[0].title == ZONING_JA
    assert atom(client, bbox="140.10,36.07,140.12,36.09", layer="zoning").entries == []
    english = json_feed(client, **ZONE, lang="en")
    assert [i["title"] for i in english["items"]] == [ZONING_EN] and english["language"] == "en"


def test_a_shelter_opened_live_is_in_the_area_feed_as_a_sentence(client, opened):
    sentence = f"指定避難所「{opened['name']}」が開設されました"
    area = {"lat": opened["lat"], "lon": opened["lon"]}
    items = json_feed(client, **area, radius="200")["items"]
    assert [i["title"] for i in items] == [sentence]
    assert (
        items[0]["_tsukuba_gis"]["layer"] == "shelters"
        and "開設状況: 未開設 → 開設" in items[0]["content_text"]
    )
    assert items[0]["url"].endswith(f"&pt={float(opened['lat']):.6f},{float(opened['lon']):.6f}")
    assert items[0]["external_url"].endswith(f"/api/collections/shelters/items/{SHELTER}")
    assert [e.title for e in atom(client, layer="shelters").entries] == [sentence]
    assert atom(client, layer="zoning", **area).entries == []
    english = atom(client, layer="shelters", lang="en").entries[0].title
    assert english == f"Designated evacuation shelters: {opened['name']} has opened"
    town = client.app.state.snapshots.get("public").search.nearest_towns(
        float(opened["lat"]), float(opened["lon"]), 1
    )
    name, metres = town[0][0].name, town[0][1]
    assert metres < 700, (name, metres)
    assert [e.title for e in atom(client, town=name).entries] == [sentence]


def test_the_public_feeds_carry_no_staff_layer_field_or_editor(client, opened, feed_city):
    everything = client.get("/feeds/changes.atom", params={"limit": "200"}).text
    everything += client.get("/feeds/changes.json", params={"limit": "200", "lang": "en"}).text
    for secret in (
        "shelters_staff",
        "避難所 管理連絡先",
        "key_holder",
        "鍵の保管",
        "学校長（鍵番号Q7）",
        "kato-bousai",
        "disaster",
    ):
        assert secret not in everything, secret
    for secret in ("review_status", "庁内確認状況", REVIEW_ONLY, REVIEW_TOO):
        assert secret not in everything, secret
    flood = json_feed(client, layer="flood_sample")["items"]
    assert len(flood) == 1 and "浸水深ランク: 0.5〜3.0m → 3.0〜5.0m" in flood[0]["content_text"], flood
    assert client.get("/feeds/changes.json", params={"layer": "shelters_staff"}).status_code == 400
    assert client.get("/internal/feeds/changes.json").status_code == 401
    staff = json_feed(client, "/internal/feeds/changes.json", auth=("kato-bousai", PASSWORD))
    titles = [i["title"] for i in staff["items"]]
    assert any("鍵の保管" in t for t in titles) and ZONING_JA in titles
    texts = "".join(i["content_text"] for i in staff["items"])
    assert "学校長（鍵番号Q7）" in texts and REVIEW_ONLY in texts and REVIEW_TOO in texts
    assert staff["feed_url"].startswith("http://testserver/internal/feeds/changes.json")


def test_etag_304_and_a_new_etag_after_a_change(client, opened):
    first = client.get("/feeds/changes.atom", params={"layer": "shelters"})
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, no-cache"
    again = client.get("/feeds/changes.atom", params={"layer": "shelters"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    other = client.get("/feeds/changes.atom", params={"layer": "shelters", "lang": "en"})
    assert other.headers["etag"] != etag
    auth = ("kato-bousai", PASSWORD)
    read = client.get(f"{ITEMS}/{SHELTER}", params={"f": "json"}, auth=auth)
    client.patch(
        f"{ITEMS}/{SHELTER}",
        json={"properties": {"crowding": "やや混雑"}},
        headers={"Content-Type": "application/merge-patch+json", "If-Match": read.headers["etag"]},
        auth=auth,
    ).raise_for_status()
    changed = client.get("/feeds/changes.atom", params={"layer": "shelters"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "混雑状況" in feedparser.parse(changed.content).entries[0].title


def test_pages_follow_the_next_links_to_the_end(client, opened):
    whole = [i["id"] for i in json_feed(client, limit="200")["items"]]
    assert len(whole) >= 3
    seen, url = [], "/feeds/changes.json?limit=1"
    for _ in range(len(whole) + 1):  # bounded: one page per entry
        page = client.get(url).json()
        seen += [i["id"] for i in page["items"]]
        if "next_url" not in page:
            break
        url = page["next_url"].removeprefix("http://testserver")
    assert seen == whole
    first = atom(client, limit="1")
    nexts = [link.href for link in first.feed.links if link.rel == "next"]
    assert nexts and "before=" in nexts[0] and "limit=1" in nexts[0]
    assert atom(client, **dict(httpx.URL(nexts[0]).params)).entries[0].id == whole[1]


@pytest.mark.parametrize(
    "params",
    [
        {"lat": "35.0", "lon": "139.0"},
        {"lat": "35.991", "lon": "140.1325", "radius": "2500"},
        {"lat": "35.991", "lon": "140.1325", "radius": "0"},
        {"lat": "35.991"},
        {"lat": "north", "lon": "140.1"},
        {"radius": "300"},
        {"layer": "no_such_layer"},
        {"town": "存在しない町一丁目"},
        {"bbox": "139.0,35.0,139.1,35.1"},
        {"bbox": "1,2,3"},
        {"bbox": "140.2,36.0,140.1,36.1"},
        {"town": "竹園一丁目", "bbox": "140.1,36.0,140.2,36.1"},
        {"limit": "0"},
        {"limit": "1000"},
        {"before": "abc"},
        {"lang": "fr"},
    ],
)
def test_bad_parameters_are_a_400_with_the_ogc_error(client, params):
    for path in ("/feeds/changes.atom", "/feeds/changes.json"):
        answer = client.get(path, params=params)
        assert answer.status_code == 400, (params, answer.text)
        body = answer.json()
        assert set(body) >= {"code", "type", "description"} and body["description"]


def test_records_are_kept_by_the_store_in_commit_order(feed_city, opened):
    store = open_store(feed_city.settings.store_url)
    records = store.change_records(after=0, limit=1000)
    assert [r.id for r in records] == sorted(r.id for r in records)
    causes = {r.cause.split(":")[0] for r in records}
    assert causes == {"etl", "edit"}
    assert all("kato" not in r.cause for r in records)


def test_a_rollback_is_in_the_feed_too(feed_city, client):
    from etl.versions import activate

    record, _ = activate(feed_city.settings, "zoning")
    assert record.version == 1
    newest = atom(client, **ZONE, layer="zoning").entries[0]
    assert newest.title == "用途地域が変わりました: 第1種中高層住居専用地域 → 第1種低層住居専用地域"
    store = open_store(feed_city.settings.store_url)
    last = store.change_records(before=10**18, layers=["zoning"], limit=1)[0]
    assert last.cause.startswith("etl:rollback-") and last.kind == "modified"
