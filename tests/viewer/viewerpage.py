"""Helpers of the viewer's browser tests: opening the page, waiting, languages, errors, axe-core."""

import re

from liveserver import offline_context  # noqa: F401 (the viewer tests' contexts)

from tsukuba_gis.settings import PROJECT_ROOT

AXE = PROJECT_ROOT / "viewer" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS = 10_000
SEARCH = ".tg-search-input"
# Inside the PLATEAU UseDistrict 第1種低層住居専用地域 (BCR 40 / FAR 80), ~80 m from its edge.
ZONED = (35.9909, 140.13296)


def wait_loaded(page) -> None:
    """Wait until no layer shown is loading any more."""
    page.wait_for_function(
        "() => document.querySelector('.tg-layer') &&"
        " !document.querySelector('.tg-layer[data-status=\"loading\"]')",
        timeout=WAIT_MS,
    )


def open_viewer(page, live_server, hash: str = "") -> None:
    """Open / (with a hash) and wait until every layer shown at start has finished loading."""
    if page.url != "about:blank":
        page.goto("about:blank")  # another hash alone would not load the page again
    page.goto(f"{live_server.url}/{hash}")
    page.wait_for_selector(".tg-layer[data-layer]", state="attached", timeout=WAIT_MS)
    wait_loaded(page)


def checkbox(layer_id: str) -> str:
    return f'.tg-layer[data-layer="{layer_id}"] input[type="checkbox"]'


def point_report(page) -> None:
    """Wait for the point panel to show a report."""
    page.wait_for_selector(".tg-point h3", timeout=WAIT_MS)


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of the given impacts on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the pages' CSP refuses inline script (issue 18).
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def choose_language(page, code: str) -> None:
    """Pick a language in the header's menu and wait until the page speaks it."""
    page.click(".tg-lang")
    page.click(f'.tg-lang-option[data-lang="{code}"]')
    page.wait_for_function("(code) => document.documentElement.lang === code", arg=code, timeout=WAIT_MS)


class PageErrors:
    """Uncaught exceptions (``pageerror``) and console errors of a page, for a test to assert none.

    Allowed without asking: the browser's "Failed to load resource" for hosts other than the test
    server (the blocked base-map tiles). Anything else a test expects it ``allow``s by pattern.
    """

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: list[re.Pattern] = []

    def watch(self, page) -> None:
        """Collect the errors of ``page`` from now on."""
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and not url.startswith("http://127.0.0.1"):
            return
        self.errors.append(f"console: {message.text} ({url})")

    def allow(self, pattern: str) -> None:
        """Do not count errors matching the regular expression ``pattern``."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        """The errors no ``allow`` pattern matches."""
        return [error for error in self.errors if not any(p.search(error) for p in self.allowed)]

    def check(self) -> None:
        """Fail when there was an unexpected error."""
        assert self.unexpected() == [], "errors on the page"


def search(page, typed: str) -> list[str]:
    """Type into the cleared search box until the suggestions answer it; their names."""
    page.fill(SEARCH, "")
    page.type(SEARCH, typed, delay=20)
    wait_search_answer(page, typed)
    return page.eval_on_selector_all(
        ".tg-search-option .tg-search-name", "els => els.map(e => e.textContent)"
    )


def wait_search_answer(page, typed: str) -> None:
    """Until the suggestions shown answer what was typed (not an earlier keystroke's query)."""
    page.wait_for_function(
        "(q) => document.querySelector('.tg-search-list').dataset.query === q",
        arg=typed.strip(),
        timeout=WAIT_MS,
    )
