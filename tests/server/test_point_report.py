"""The resident's point report on both stores: place name first, hazards and matched sites first,
plain-language planning rules, boundaries stated, eight languages, and the printed A4 sheet."""

import io
import math
import re

import pytest
import shapely
from pypdf import PdfReader

from tsukuba_gis.i18n import LANGUAGES
from tsukuba_gis.store import Query, open_store

ZONED = {"lat": 35.9909, "lon": 140.13296}  # inside the PLATEAU 第1種低層住居専用地域 (40/80)
A4_PORTRAIT_PT = (595, 842)


def polygon_of(settings, layer_id, **equals):
    store = open_store(settings.store_url)
    record = store.current(layer_id)
    page = store.query(record, Query(limit=100, equals=tuple(equals.items())))
    return shapely.from_wkb(page.wkb[0])


@pytest.fixture(scope="module")
def deep_flood(sample_settings):
    """A point well inside the deepest band (rank 3) of the synthetic flood sample."""
    band = polygon_of(sample_settings, "flood_sample", depth_rank=3)
    point = band.representative_point()
    assert band.boundary.distance(point) > 0.0003
    return {"lat": point.y, "lon": point.x}


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def on_store(request):
    """(in-process app, settings) of one store: tests using it run once per store."""
    if request.param == "gpkg":
        return request.getfixturevalue("app_client"), request.getfixturevalue("sample_settings")
    return request.getfixturevalue("postgis_app_client"), request.getfixturevalue("postgis_sample_settings")


def get(client, params, **more):
    response = client.get("/point", params={**params, **more})
    assert response.status_code == 200, response.text
    return response


def section(report, section_id):
    return next(s for s in report["sections"] if s["id"] == section_id)


def item(report, layer_id):
    return next(i for s in report["sections"] for i in s["items"] if i["layer"] == layer_id)


def test_the_report_starts_with_the_nearest_town(on_store):
    each_app_client, each_sample_settings = on_store
    report = get(each_app_client, ZONED).json()
    place = report["place"]
    store = open_store(each_sample_settings.store_url)
    page = store.query(store.current("towns"), Query(limit=1000, select=("town", "koaza")))
    ky = math.radians(6_371_008.8)
    kx = ky * math.cos(math.radians(ZONED["lat"]))
    nearest = min(
        (math.hypot((p.x - ZONED["lon"]) * kx, (p.y - ZONED["lat"]) * ky), props["town"])
        for props, p in zip(page.properties, shapely.from_wkb(page.wkb), strict=True)
        if not props.get("koaza")
    )
    assert place["town"] == nearest[1] and abs(place["distance_m"] - nearest[0]) <= 2
    assert place["name"] == {"text": f"つくば市{nearest[1]}付近", "lang": "ja"}
    assert report["summary"][0] == place["name"]
    english = get(each_app_client, ZONED, lang="en").json()["place"]["name"]["text"]
    assert english.startswith("Near ") and english.endswith(", Tsukuba") and "丁目" not in english


def test_sections_in_order_hazards_and_shelters_first(each_app_client, deep_flood):
    report = get(each_app_client, deep_flood).json()
    assert [s["id"] for s in report["sections"]] == ["hazard", "shelter", "planning", "other"]
    flood = item(report, "flood_sample")
    assert flood["status"] == "here" and flood["synthetic"]
    feature = flood["features"][0]
    assert feature["name"]["text"] == "3.0〜5.0m"
    depth = next(line for line in feature["lines"] if line["name"] == "depth_rank")
    assert "2階" in depth["explain"]["text"] and "避難" in depth["advice"]["text"]
    assert "水害ハザードマップ作成の手引き" in flood["source"]["text"]
    assert "3.0〜5.0m" in report["summary"][1]["text"]
    # Raw codes stay available, apart.
    assert {"name": "depth_rank", "value": "3"}.items() <= next(
        d for d in feature["details"] if d["name"] == "depth_rank"
    ).items()


def test_emergency_sites_are_matched_to_the_hazard_here(on_store, deep_flood):
    each_app_client, each_sample_settings = on_store
    report = get(each_app_client, deep_flood).json()
    groups = {g["hazard"]: g for g in section(report, "shelter")["matched"]}
    assert set(groups) == {"flood", "earthquake"}  # the flood here, and earthquakes anywhere
    store = open_store(each_sample_settings.store_url)
    page = store.query(store.current("emergency_sites"), Query(limit=100))
    flood_ok = {fid for fid, p in zip(page.ids, page.properties, strict=True) if p.get("flood")}
    sites = groups["flood"]["sites"]
    assert sites and {s["id"] for s in sites} <= flood_ok
    assert [s["distance_m"] for s in sites] == sorted(s["distance_m"] for s in sites)
    assert "洪水" in groups["flood"]["title"]["text"] and "徒歩" in sites[0]["distance_text"]["text"]
    # The nearest shelters (指定避難所, no hazard flags) are still listed; emergency sites once.
    assert [g["layer"] for g in section(report, "shelter")["nearest"]] == ["shelters"]


def test_no_flood_here_is_said_and_no_flood_sites_are_offered(each_app_client):
    report = get(each_app_client, {"lat": 36.0785, "lon": 140.118}).json()
    hazard = section(report, "hazard")
    assert item(report, "flood_sample")["status"] == "none"
    assert "入っていません" in hazard["status_text"]["text"]
    assert [g["hazard"] for g in section(report, "shelter")["matched"]] == ["earthquake"]


def test_planning_rules_in_plain_words(each_app_client):
    report = get(each_app_client, ZONED).json()
    zoning = item(report, "zoning")["features"][0]
    assert zoning["name"]["text"] == "第1種低層住居専用地域"
    lines = {line["name"]: line for line in zoning["lines"]}
    assert "低層住宅" in lines["YoutoCode"]["explain"]["text"]
    assert lines["BCR"]["explain"]["text"] == "敷地の面積の40%まで建物で覆えます（建蔽率）。"
    assert "80%" in lines["FAR"]["explain"]["text"] and "10m" in lines["HeightLimit"]["explain"]["text"]
    details = {d["name"]: d["value"] for d in zoning["details"]}
    assert details["YoutoCode"] == "1" and "Custodian" in details and "Custodian" not in lines
    # The planning area's 面積 and 備考 are details, not the first thing read.
    area = item(report, "urban_planning_area")["features"][0]
    assert [line["name"] for line in area["lines"]] == ["TokeiName"] or area["name"]
    assert "NominalArea" in {d["name"] for d in area["details"]}


def test_values_are_translated_with_fallbacks_marked(each_app_client):
    english = item(get(each_app_client, ZONED, lang="en").json(), "zoning")["features"][0]
    assert english["name"] == {"text": "Category 1 low-rise residential", "lang": "en"}
    bcr = next(line for line in english["lines"] if line["name"] == "BCR")
    assert bcr["explain"]["text"].startswith("Buildings may cover up to 40%")
    korean = item(get(each_app_client, ZONED, lang="ko").json(), "zoning")["features"][0]
    assert korean["name"] == {"text": "제1종 저층주거전용지역", "lang": "ko"}
    explain = next(line for line in korean["lines"] if line["name"] == "YoutoCode")["explain"]
    assert explain["lang"] == "en"  # no Korean explanation yet: English, marked as such
    easy = item(get(each_app_client, ZONED, lang="ja-x-easy").json(), "zoning")["features"][0]
    assert easy["name"]["lang"] == "ja-x-easy"


def test_a_point_on_a_boundary_is_stated_not_contradicted(on_store):
    each_app_client, each_sample_settings = on_store
    zone = polygon_of(each_sample_settings, "zoning")
    edge = zone.boundary.interpolate(0.37, normalized=True)
    report = get(each_app_client, {"lat": edge.y, "lon": edge.x}).json()
    zoning = next(i for i in section(report, "planning")["items"] if i["layer"] == "zoning")
    assert any("境界" in n["text"] for n in zoning["notes"]), zoning
    inside = get(each_app_client, ZONED).json()
    assert item(inside, "zoning")["notes"] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_report_answers_in_eight_languages(app_client, deep_flood, lang):
    report = get(app_client, deep_flood, lang=lang).json()
    assert report["lang"] == lang and report["place"]["name"]["lang"] == lang
    assert all(s["title"]["lang"] == lang for s in report["sections"])
    assert item(report, "flood_sample")["title"]["lang"] == lang
    sheet = get(app_client, deep_flood, lang=lang, f="html").text
    assert f'<html lang="{lang}">' in sheet


def test_language_from_accept_language_and_unknown_ones(app_client):
    headers = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}
    assert app_client.get("/point", params=ZONED, headers=headers).json()["lang"] == "vi"
    response = app_client.get("/point", params={**ZONED, "lang": "fr"})
    assert response.status_code == 400
    assert all(tag in response.json()["description"] for tag in LANGUAGES)


def test_the_sample_label_appears_once(app_client, deep_flood):
    # Once in the report (the layer's title); the footer quotes each source's own credit.
    # Each sample layer shown (the flood area, and main's sample rasters) is named once.
    for lang, label in (("ja", "サンプル（架空）"), ("en", "SYNTHETIC SAMPLE")):
        sheet = get(app_client, deep_flood, f="html", lang=lang).text.split("<footer>")[0]
        titles = [t for t in re.findall(r"<h[23]>(.*?)</h[23]>", sheet) if label in t]
        assert titles and all(t.count(label) == 1 for t in titles)
        assert sheet.count(label) == len(titles)


def pdf_of(browser, html: str) -> tuple[bytes, list[str]]:
    """Chromium's PDF of a page, and every request the page tried to make."""
    context = browser.new_context()
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_content(html, wait_until="load")
    pdf = page.pdf(prefer_css_page_size=True)
    context.close()
    return pdf, requests


def test_the_printed_sheet_is_one_a4_page(browser, each_app_client, deep_flood):
    html = get(each_app_client, deep_flood, f="html").text
    pdf, requests = pdf_of(browser, html)
    assert requests == []  # nothing fetched: no tiles, fonts or images from anywhere
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert all(
        abs(a - b) < 2 for a, b in zip((float(box.width), float(box.height)), A4_PORTRAIT_PT, strict=True)
    )
    text = re.sub(r"\s+", "", reader.pages[0].extract_text())
    assert text.count("付近") >= 1 and "つくば市" in text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日\d{2}:\d{2}（日本時間）", text)
    assert "1:5,000" in text and "100m" in text and "凡例" not in text or "調べた地点" in text
    assert "災害の危険" in text and text.index("災害の危険") < text.index("都市計画のルール")
    assert "洪水のときの指定緊急避難場所" in text and "証明書ではありません" in text
    assert "国土数値情報" in text or "PLATEAU" in text  # credits of what is shown


def test_the_sheet_map_draws_what_is_around_and_its_legend_only(app_client, deep_flood):
    html = get(app_client, deep_flood, f="html").text
    svg = html[html.index('<svg class="map"') : html.index("</svg>")]
    assert svg.count("<path") > 3 and 'fill="#ffb7b7"' in svg  # the rank-3 band's colour
    legend = html[html.index('<ul class="legend"') : html.index("</ul>")]
    assert "3.0〜5.0m" in legend and "第1種低層住居専用地域" not in legend  # zoning is far away


def test_viewer_config_carries_the_tilejson(each_app_client):
    config = each_app_client.get("/viewer-config.json").json()
    tiled = {k: v["tilejson"] for k, v in config["layers"].items() if "tilejson" in v}
    assert {"zoning", "flood_sample", "road_areas"} <= set(tiled)
    for layer_id, inline in tiled.items():
        served = each_app_client.get(
            f"/api/collections/{layer_id}/tiles/WebMercatorQuad", params={"f": "tilejson"}
        )
        assert served.json() == inline
        assert inline["tiles"][0].endswith(f"/collections/{layer_id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}")


@pytest.mark.parametrize(
    ("lang", "title"), [("ko", "용도지역"), ("vi", "Quy hoạch sử dụng đất"), ("en", "Land-use zoning")]
)
def test_layer_titles_reach_the_ogc_api_in_its_languages(app_client, lang, title):
    body = app_client.get("/api/collections/zoning", params={"f": "json", "lang": lang}).json()
    assert body["title"] == title
