"""Every staff page with data in its tables, in Chromium at 375 px and 1280 px, for a
French staff member: at 1280 px no table is cut off or scrolls; at 375 px the page never
scrolls sideways, a table wider than the screen scrolls inside its own box, said by a
visible hint."""

import pytest
from browser_helpers import assert_no_serious_axe_violations, staff_page_at
from staff_pages import seed_staff_data, staff_paths

STAFF_EMAIL = "tableaux@weprode.com"
STAFF_PASSWORD = "Glacier-Lake-Savoie-42"
WIDTHS = [375, 1280]

MEASURE_JS = """() => {
    const tables = [...document.querySelectorAll("main table, .admin-page table")];
    const wraps = tables.map(table => {
        const wrap = table.closest(".table-wrap");
        if (!wrap) return {wrapped: false, caption: table.caption && table.caption.textContent};
        const box = wrap.getBoundingClientRect();
        return {
            wrapped: true,
            overflowX: getComputedStyle(wrap).overflowX,
            scrolls: wrap.scrollWidth > wrap.clientWidth + 1,
            tableWider: table.getBoundingClientRect().width > box.width + 1,
            right: box.right,
            rows: table.tBodies[0] ? table.tBodies[0].rows.length : 0,
        };
    });
    const hints = [...document.querySelectorAll(".table-hint")];
    return {
        wraps,
        hintsShown: hints.filter(hint => hint.offsetParent !== null).length,
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        lang: document.documentElement.lang,
    };
}"""


@pytest.fixture(scope="module")
def full_server(live_server):
    """The live server with a French staff account and data in every staff list."""
    live_server.app.config["STAFF_LANGUAGE"] = "fr"  # the shipped default; tests say en
    live_server.ids = seed_staff_data(live_server.app, STAFF_EMAIL, STAFF_PASSWORD)
    return live_server


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def signed_in(request, context, full_server):
    """A French staff member's page at the width under test."""
    page = staff_page_at(
        context, full_server.url, STAFF_EMAIL, STAFF_PASSWORD, request.param, "Se connecter"
    )
    yield page, request.param, full_server
    page.close()


def test_no_staff_page_is_cut_off_or_pushed_sideways(signed_in):
    page, width, server = signed_in
    problems, tables_with_rows, scrolling = [], 0, 0
    for path in staff_paths(server.ids):
        response = page.goto(server.url + path)
        assert response.status == 200, path
        found = page.evaluate(MEASURE_JS)
        assert found["lang"] == "fr", path
        if found["scrollWidth"] > found["innerWidth"]:
            problems.append(f"{path}: the page is {found['scrollWidth']} px wide")
        for wrap in found["wraps"]:
            if not wrap["wrapped"]:
                problems.append(f"{path}: a table outside a .table-wrap ({wrap['caption']})")
                continue
            tables_with_rows += wrap["rows"] > 0
            scrolling += wrap["scrolls"]
            if wrap["right"] > width:
                problems.append(f"{path}: a table box ends at {wrap['right']} px")
            if wrap["tableWider"] and wrap["overflowX"] not in ("auto", "scroll"):
                problems.append(f"{path}: a wide table in a box that does not scroll")
            if width == 1280 and wrap["scrolls"]:
                problems.append(f"{path}: a table is cut off at 1280 px")
        if width == 375 and any(w.get("scrolls") for w in found["wraps"]):
            if not found["hintsShown"]:
                problems.append(f"{path}: a table scrolls without the visible hint")
        if width == 1280 and found["hintsShown"]:
            problems.append(f"{path}: the scrolling hint shows on a wide screen")
    assert problems == []
    # The check measured real tables: with rows, and at 375 px some too wide for the screen.
    assert tables_with_rows >= 10
    assert scrolling > 0 if width == 375 else scrolling == 0


def test_every_staff_page_passes_axe_in_french(context, full_server):
    """Once per page, at the phone width, where the tables scroll."""
    page = staff_page_at(context, full_server.url, STAFF_EMAIL, STAFF_PASSWORD, 375, "Se connecter")
    for path in staff_paths(full_server.ids):
        page.goto(full_server.url + path)
        assert_no_serious_axe_violations(page, f"{path} at 375 px")
    page.close()
