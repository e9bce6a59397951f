"""The eight UI languages: one file each with every key (checked with node), loaded only when
chosen, picked from the menu, the link or (first visit) the browser, and the server's {ja, en}
labels shown in the UI language or marked (lang) as the English or Japanese they fall back to."""

import json
import shutil
import subprocess

import pytest
from viewerpage import WAIT_MS, ZONED, choose_language, offline_context, open_viewer, point_report

from tsukuba_gis.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

I18N = PROJECT_ROOT / "viewer" / "src" / "i18n"
CODES = ["ja", "ja-x-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt"]
NODE_DUMP = """
const codes = JSON.parse(process.argv[1]);
Promise.all(codes.map((c) => import(`${process.argv[2]}/${c}.js`))).then((mods) => {
  console.log(JSON.stringify(Object.fromEntries(codes.map((c, i) => [c, mods[i].default]))));
});
"""


@pytest.fixture(scope="module")
def strings() -> dict[str, dict[str, str]]:
    """Every language file's strings, read by node (the files are ES modules)."""
    node = shutil.which("node")
    assert node, "node is needed (it builds the viewer too)"
    result = subprocess.run(
        [node, "--input-type=module", "-e", NODE_DUMP, json.dumps(CODES), I18N.as_uri()],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def placeholders(text: str) -> set[str]:
    import re

    return set(re.findall(r"\{\w+\}", text))


def test_every_language_file_has_every_key_and_placeholder(strings):
    japanese = strings["ja"]
    for code in CODES:
        assert (I18N / f"{code}.js").exists()
        assert set(strings[code]) == set(japanese), code
        for key, text in strings[code].items():
            assert text.strip(), (code, key)
            assert placeholders(text) == placeholders(japanese[key]), (code, key)
            if code not in {"ja", "ja-x-easy"} and key not in {"openData", "password", "login"}:
                # Translated, not copied (the few loanwords Japanese shares excepted).
                assert text != japanese[key] or not any("\u3040" <= ch <= "\u30fa" for ch in text), (
                    code,
                    key,
                )


def chunk_requests(page) -> list[str]:
    return page.evaluate(
        "performance.getEntriesByType('resource').map(r => r.name).filter(n => n.includes('/build/chunks/'))"
    )


@pytest.mark.parametrize("code", CODES)
def test_each_language_from_a_link(page, live_server, strings, code):
    open_viewer(page, live_server, f"#lang={code}")
    assert page.get_attribute("html", "lang") == code
    assert page.inner_text("#tg-tab-layers") == strings[code]["panelTitle"]
    assert page.inner_text("#tg-tab-info") == strings[code]["infoTab"]
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == strings[code]["zoomIn"]
    assert page.get_attribute(".tg-lang-option[aria-current=true]", "data-lang") == code
    # Japanese is in the bundle; another language is one file, fetched when chosen.
    chunks = chunk_requests(page)
    assert len(chunks) == (0 if code == "ja" else 1)
    assert all(f"/{code}-" in url for url in chunks)
    page.wait_for_function("(c) => location.hash.includes(`lang=${c}`)", arg=code, timeout=WAIT_MS)


def test_server_labels_fall_back_to_english_then_japanese_and_say_so(page, live_server, api, strings):
    shelters = api["config"]["layers"]["shelters"]
    open_viewer(page, live_server, "#lang=vi")
    title = page.locator('.tg-layer[data-layer="shelters"] .tg-layer-title')
    # The definitions now carry Vietnamese titles (no mark); the departments' names do not.
    assert title.inner_text() == shelters["title"]["vi"] and title.get_attribute("lang") is None
    # The zoning's legend classes have no Vietnamese: English, marked.
    legend = page.locator('.tg-layer[data-layer="zoning"] .tg-legend span[lang="en"]')
    assert legend.count() > 0
    assert page.inner_text(".tg-fallback-note") == strings["vi"]["fallbackNote"]
    # Easy Japanese takes the Japanese labels (read as Japanese: no lang mark), and says so.
    choose_language(page, "ja-x-easy")
    title = page.locator('.tg-layer[data-layer="shelters"] .tg-layer-title')
    assert title.inner_text() == shelters["title"]["ja-x-easy"] and title.get_attribute("lang") is None
    assert page.inner_text(".tg-fallback-note") == strings["ja-x-easy"]["fallbackNote"]
    # English has every label: nothing marked.
    choose_language(page, "en")
    assert page.locator(".tg-fallback-note").count() == 0
    assert page.get_attribute('.tg-layer[data-layer="shelters"] .tg-layer-title', "lang") is None


def test_the_point_report_in_another_language_links_the_servers_own(page, live_server):
    lat, lon = ZONED
    open_viewer(page, live_server, f"#map=16/{lat}/{lon}&pt={lat},{lon}&layers=zoning&lang=ko")
    point_report(page)
    assert page.inner_text(".tg-point-title") == "이 지점의 정보"
    # The server answers in Korean: the zoning's title and class are its Korean words...
    plain = '.tg-point .tg-point-plain[data-layer="zoning"]'
    assert page.inner_text(f"{plain} h4") == "용도지역"
    assert page.inner_text(f"{plain} .tg-point-name") == "제1종 저층주거전용지역"
    # ...and what it has no Korean for (the explanation) is its English, marked as such.
    assert page.locator(f'{plain} .tg-point-explain[data-field="YoutoCode"] span[lang="en"]').count() == 1
    assert "lang=ko" in page.get_attribute(".tg-point-actions a[download]", "href")
    choose_language(page, "ja-x-easy")  # asked again in Easy Japanese
    page.wait_for_function(
        "() => document.querySelector('.tg-point-place')?.textContent.includes('ちかく')", timeout=WAIT_MS
    )
    assert "lang=ja-x-easy" in page.get_attribute(".tg-point-actions a[download]", "href")


@pytest.mark.parametrize(
    ("locale", "code"), [("ko-KR", "ko"), ("zh-TW", "zh-Hant"), ("pt-BR", "pt"), ("fr-FR", "ja")]
)
def test_a_first_visit_speaks_the_browsers_language(browser, live_server, locale, code):
    context = offline_context(browser, viewport={"width": 1280, "height": 800}, locale=locale)
    page = context.new_page()
    try:
        open_viewer(page, live_server)
        assert page.get_attribute("html", "lang") == code
        # A choice of the user's wins on the next visit (remembered), over the browser's.
        choose_language(page, "en")
        page.wait_for_function("() => location.hash.includes('lang=en')", timeout=WAIT_MS)
        open_viewer(page, live_server, "#")
        assert page.get_attribute("html", "lang") == "en"
    finally:
        context.close()
