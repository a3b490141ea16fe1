"""Layout on a phone (375 px) and a desktop (1280 px), measured from element boxes in
Chromium: the menu's rows, radio buttons that keep their size, a table whose caption
is read in full without sideways scrolling, asterisks that stay with their label."""

import pytest

WIDTHS = [375, 1280]
PAGES = [
    "/",
    "/?lang=fr",
    "/contact",
    "/contact?lang=fr",
    "/newsletter?lang=fr",
    "/privacy",
    "/privacy?lang=fr",
    "/privacy/request",
    "/privacy/request?lang=fr",
]

MEASURE_JS = """() => {
    const box = el => el.getBoundingClientRect();
    const visible = el => el.offsetParent !== null;
    const navRows = new Set(
        [...document.querySelectorAll(".site-nav-public li")].map(li => Math.round(box(li).top))
    ).size;
    const radios = [...document.querySelectorAll("input[type=radio]")].filter(visible)
        .map(r => [Math.round(box(r).width * 10) / 10, Math.round(box(r).height * 10) / 10]);
    // Each asterisk against the last character of the text before it: same line?
    const marks = [...document.querySelectorAll("label .required-mark, legend .required-mark")]
        .filter(visible)
        .map(mark => {
            const text = mark.previousSibling;
            const label = mark.parentElement.textContent.trim().slice(0, 40);
            if (!text || text.nodeType !== Node.TEXT_NODE || !text.textContent.trim()) {
                return {label, sameLine: true};
            }
            const end = text.textContent.trimEnd().length;
            const range = document.createRange();
            range.setStart(text, end - 1);
            range.setEnd(text, end);
            return {label, sameLine: Math.abs(box(range).top - box(mark).top) < 2};
        });
    const caption = document.querySelector("#retention caption");
    let table = null;
    if (caption) {
        const wrap = caption.closest(".table-wrap");
        table = {
            captionLeft: box(caption).left,
            captionRight: box(caption).right,
            captionClipped: caption.scrollWidth > caption.clientWidth,
            wrapScrolls: wrap.scrollWidth > wrap.clientWidth,
        };
    }
    return {
        navRows, radios, marks, table,
        pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
    };
}"""


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def measure(request, context, live_server):
    """Open a path at the width under test; return what MEASURE_JS found."""
    width = request.param
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 800})

    def measured(path):
        page.goto(live_server.url + path)
        return {"width": width, **page.evaluate(MEASURE_JS)}

    yield measured
    page.close()


@pytest.mark.parametrize("path", PAGES)
def test_layout_holds_at_phone_and_desktop_widths(measure, path):
    found = measure(path)
    rows_allowed = 2 if found["width"] < 600 else 1
    assert 1 <= found["navRows"] <= rows_allowed, found["navRows"]
    assert not found["pageScrolls"]
    # Every radio button keeps one size, however its label wraps.
    assert len(set(map(tuple, found["radios"]))) <= 1, found["radios"]
    assert all(width >= 15 for width, _height in found["radios"]), found["radios"]
    alone = [mark["label"] for mark in found["marks"] if not mark["sameLine"]]
    assert not alone, f"asterisk alone on its line after: {alone}"


@pytest.mark.parametrize("path", ["/privacy", "/privacy?lang=fr"])
def test_retention_table_reads_without_sideways_scrolling(measure, path):
    found = measure(path)
    table = found["table"]
    assert table is not None
    assert not table["wrapScrolls"]
    assert not table["captionClipped"]
    assert 0 <= table["captionLeft"] and table["captionRight"] <= found["width"]


@pytest.mark.parametrize("path", ["/privacy/request?lang=fr", "/newsletter?lang=fr", "/contact"])
def test_pages_with_radio_buttons_have_some(measure, path):
    """The radio check above is not vacuous on these pages."""
    assert measure(path)["radios"]
