"""The gazetteer (ETL) and the place search over it, on both stores: what people type first."""

import csv
import dataclasses
import math

import pytest

from etl.gazetteer import GAZETTEER_ID, build_gazetteer
from server.placeindex import SearchIndex
from server.snapshot import PublishedLayer
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.i18n import LANGUAGES, negotiate
from tsukuba_gis.names import hepburn, romaji_key
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
INTERNAL = {layer.id for layer in CATALOG.layers.values() if layer.access == "internal"}
SOURCES = PROJECT_ROOT / "sources"


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    ky = math.radians(6_371_008.8)
    kx = ky * math.cos(math.radians(a[0]))
    return math.hypot((a[0] - b[0]) * ky, (a[1] - b[1]) * kx)


def town_points() -> dict[str, tuple[float, float]]:
    """The Geolonia representative points, read from the source file (not from the store)."""
    with open(SOURCES / "planning/tsukuba_towns_sjis.csv", encoding="cp932", newline="") as handle:
        return {
            r["大字町丁目名"]: (float(r["緯度"]), float(r["経度"]))
            for r in csv.DictReader(handle)
            if r["緯度"] and not r["小字・通称名"]
        }


def gazetteer_rows(settings) -> list[dict]:
    store = open_store(settings.store_url)
    record = store.current(GAZETTEER_ID)
    assert record is not None, "the ETL wrote no gazetteer"
    return store.query(record, Query(limit=10_000)).properties


def search(client, q, **params):
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_etl_writes_readings_and_romaji_on_both_stores(each_sample_settings):
    rows = {r["name"]: r for r in gazetteer_rows(each_sample_settings)}
    assert (
        rows["竹園一丁目"]["kana"] == "たけぞのいっちょうめ"
        and rows["竹園一丁目"]["romaji"] == "Takezono 1-chome"
    )
    assert rows["吾妻一丁目"]["kana"] == "あづまいっちょうめ" and rows["吾妻一丁目"]["reading"] == "japanpost"
    assert rows["大穂"]["romaji"] == "Oho" and rows["大穂"]["level"] == "oaza"
    assert rows["つくば駅"]["kind"] == "station" and rows["つくば駅"]["name_en"] == "Tsukuba Station"
    assert rows["筑波大学"]["kind"] == "campus" and "筑波大" in rows["筑波大学"]["aliases"].split(";")
    # A facility named after its town carries the town's reading for that part only.
    assert rows["竹園東小学校"]["kana"] == "たけぞの東小学校" and rows["竹園東小学校"]["romaji"] is None
    assert not {r["layer"] for r in rows.values()} & INTERNAL
    with_reading = sum(1 for r in rows.values() if r["kana"])
    assert with_reading / len(rows) > 0.8, with_reading


def test_an_unchanged_store_is_not_rebuilt(each_sample_settings):
    store = open_store(each_sample_settings.store_url)
    before = store.current(GAZETTEER_ID)
    report = build_gazetteer(CATALOG, store, SOURCES)
    assert report.status == "skipped" and report.version == before.version
    assert store.current(GAZETTEER_ID) == before


# Each lands within a few hundred metres of the right place, taken from another source than
# the one the gazetteer gives it (the station from its 町丁目's representative point).
DONE = [
    ("つくば駅", "吾妻二丁目", 300),
    ("たけぞの", "竹園一丁目", 500),
    ("Takezono", "竹園一丁目", 500),
    ("筑波大学", "天王台一丁目", 300),
    ("研究学園駅", "研究学園五丁目", 300),
]


@pytest.mark.parametrize(("typed", "town", "within"), DONE)
def test_what_people_type_first_lands_near_the_place(each_app_client, typed, town, within):
    first = search(each_app_client, typed)["results"][0]
    assert metres((first["lat"], first["lon"]), town_points()[town]) < within, first


def test_a_facility_name_lands_on_the_facility(each_app_client):
    first = search(each_app_client, "竹園東小学校")["results"][0]
    assert first["name"] == "竹園東小学校" and first["match_level"] == "exact"
    assert metres((first["lat"], first["lon"]), town_points()["竹園三丁目"]) < 600


@pytest.mark.parametrize(
    ("typed", "expected", "level"),
    [
        ("たけぞの", "竹園一丁目", "reading"),
        ("タケゾノ", "竹園一丁目", "reading"),
        ("ｱﾂﾞﾏ", "吾妻一丁目", "reading"),  # half-width, ヅ
        ("あずま", "吾妻一丁目", "reading"),  # ず for づ
        ("Ōho", "大穂", "reading"),  # macron
        ("Ooho", "大穂", "reading"),  # doubled vowel
        ("Tukuba daigaku", "筑波大学", "reading"),  # Kunrei-shiki
        ("Kenkyuu-gakuen", "研究学園一丁目", "reading"),
        ("Tsukuba Station", "つくば駅", "reading"),  # English name
        ("JAXA", "宇宙航空研究開発機構 筑波宇宙センター", "reading"),  # alias
        ("筑波大", "筑波大学", "prefix"),
        ("たけぞお", "竹園一丁目", "fuzzy"),  # a typo
        ("Takezno", "竹園一丁目", "fuzzy"),
    ],
)
def test_readings_romaji_and_typos(each_app_client, typed, expected, level):
    body = search(each_app_client, typed)
    first = body["results"][0]
    assert first["name"] == expected and first["match_level"] == level, body["results"][:3]
    assert body["match_level"] == level


def test_ranking_exact_then_prefix_then_reading_then_fuzzy(app_client):
    results = search(app_client, "竹園", limit=50)["results"]
    levels = [r["match_level"] for r in results]
    order = ["exact", "prefix", "substring", "reading", "fuzzy"]
    assert levels == sorted(levels, key=order.index) and levels[0] == "prefix"
    assert results[0]["kind"] == "place"  # towns before the schools named after them


def test_nothing_found_is_said_with_suggestions(each_app_client):
    body = search(each_app_client, "竹苑")
    assert body["results"] == [] and body["note"]["text"] == "「竹苑」は見つかりませんでした"
    assert "竹園一丁目" in body["suggestions"]
    body = search(each_app_client, "xyzzy", lang="en")
    assert body["results"] == [] and body["suggestions"] == [] and body["note"]["lang"] == "en"


@pytest.mark.parametrize(
    ("typed", "town"),
    [("吾妻1-2-3", "吾妻一丁目"), ("つくば市吾妻1丁目2番3号", "吾妻一丁目"), ("下広岡123-4", "下広岡")],
)
def test_an_address_says_it_was_matched_to_its_town(each_app_client, typed, town):
    first = search(each_app_client, typed)["results"][0]
    assert first["name"] == town and first["match_level"] == "town"
    assert first["note"]["text"].startswith(f"{town}の代表点")


def test_a_town_name_is_not_an_address(app_client):
    first = search(app_client, "吾妻一丁目")["results"][0]
    assert first["match_level"] == "exact" and "note" not in first


@pytest.mark.parametrize("lang", LANGUAGES)
def test_search_answers_in_eight_languages(app_client, lang):
    body = search(app_client, "つくば駅", lang=lang)
    assert body["lang"] == lang
    assert body["results"][0]["category_label"]["lang"] == lang
    assert search(app_client, "竹苑", lang=lang)["note"]["lang"] == lang


def test_search_language_from_accept_language_and_bad_lang(app_client):
    body = app_client.get(
        "/search", params={"q": "つくば駅"}, headers={"Accept-Language": "zh-TW,zh;q=0.8"}
    ).json()
    assert body["lang"] == "zh-Hant" and body["results"][0]["category_label"]["text"] == "車站"
    response = app_client.get("/search", params={"q": "x", "lang": "fr"})
    assert response.status_code == 400 and "zh-Hans" in response.json()["description"]


def test_a_gazetteer_of_another_layer_version_is_not_used(sample_settings, app_client):
    """Entries made from a version no longer served are left out: the names still come from
    the layer itself, without readings (until the next ETL run rebuilds the gazetteer)."""
    store = open_store(sample_settings.store_url)
    layers = []
    for layer in CATALOG.in_order(CATALOG.public_layers()):
        record = store.current(layer.id)
        if record is None:
            continue
        if layer.id == "towns":
            record = dataclasses.replace(record, version=record.version + 100)
        layers.append(PublishedLayer(layer, record))
    index = SearchIndex.build(store, layers, "public", None)
    assert not [f for f in index.find("たけぞの").found if f.entry.layer == "towns"]
    assert index.find("竹園一丁目").found[0].entry.name == "竹園一丁目"


def test_romaji_and_languages():
    assert hepburn("しんおおはし") == "shin'ohashi" and hepburn("まっち") == "matchi"
    assert (
        romaji_key("Ōho") == romaji_key("Ooho") == romaji_key("Oho") == romaji_key("Ohho".replace("hh", "h"))
    )
    assert romaji_key("Shimbashi") == romaji_key("sinbasi") and romaji_key("Tsukuba") == romaji_key("tukuba")
    assert negotiate(None, "pt-BR,en;q=0.5") == "pt" and negotiate(None, "zh-Hant-HK") == "zh-Hant"
    assert negotiate(None, "fr, de;q=0.5") == "ja" and negotiate("ja-x-easy", "en") == "ja-x-easy"
