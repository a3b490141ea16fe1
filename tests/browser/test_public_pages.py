"""The public pages as a visitor's browser sees them: rendering, CSP, accessibility, keyboard."""

import pytest
from browser_helpers import assert_no_serious_axe_violations, describe

PUBLIC_PAGES = ["/", "/services", "/about", "/legal", "/privacy", "/newsletter", "/contact"]
# The same checks on French pages (longer words, another `lang`, the language switch).
FRENCH_PAGES = ["/?lang=fr", "/privacy?lang=fr"]
MISSING_PAGE = "/this-page-does-not-exist"
PAGES_WITH_STATUS = [(path, 200) for path in PUBLIC_PAGES + FRENCH_PAGES] + [(MISSING_PAGE, 404)]
ALL_PAGES = PUBLIC_PAGES + FRENCH_PAGES + [MISSING_PAGE]

MOBILE_WIDTH = 375
# How many Tab presses may separate the top of the page from the header's links.
MAX_TABS_TO_NAV = 10

# What the element that has focus is, and whether a sighted keyboard user can see it.
ACTIVE_ELEMENT_JS = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        text: (el.innerText || "").trim(),
        href: el.getAttribute("href"),
        inHeaderNav: el.closest("header nav") !== null,
        inMain: el.closest("#main") !== null,
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth) || 0,
        boxShadow: style.boxShadow,
        onScreen: box.width > 1 && box.height > 1 && box.bottom > 0 && box.right > 0
            && box.top < window.innerHeight && box.left < window.innerWidth,
    };
}"""

# Evidence that site.css was fetched, parsed and applied (not blocked by CSP or nosniff).
STYLESHEET_JS = """() => {
    const sheets = Array.from(document.styleSheets)
        .filter(s => s.href && new URL(s.href).pathname === "/static/css/site.css");
    const body = getComputedStyle(document.body);
    let rules = 0;
    try {
        rules = sheets.length ? sheets[0].cssRules.length : 0;
    } catch (error) {
        rules = 0;  // a stylesheet that failed to load has no readable rules
    }
    return {
        rules: rules,
        fontFamily: body.fontFamily,
        margin: body.margin,
    };
}"""
# Chromium's own styles for an unstyled body.
DEFAULT_FONT_FAMILY = '"Times New Roman"'
DEFAULT_BODY_MARGIN = "8px"


def is_expected_404_report(problem, url):
    """Chromium logs the 404 of the missing page itself; that one is what we asked for."""
    return problem.url == url and "status of 404" in problem.text


def active_element(page):
    return page.evaluate(ACTIVE_ELEMENT_JS)


def has_visible_focus_indicator(element):
    outlined = element["outlineStyle"] != "none" and element["outlineWidth"] > 0
    return outlined or element["boxShadow"] not in ("", "none")


def tab_until(page, predicate, limit=MAX_TABS_TO_NAV):
    """Press Tab until the focused element matches; return every element focused on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(active_element(page))
        if predicate(seen[-1]):
            return seen
    walked = [f"{e['tag']} {e['text']!r} href={e['href']}" for e in seen]
    pytest.fail(f"no match after {limit} Tab presses; focus went to: {walked}")


@pytest.mark.parametrize(("path", "status"), PAGES_WITH_STATUS)
def test_page_renders_styled_without_errors_or_csp_violations(
    page, live_server, browser_problems, path, status
):
    url = live_server.url + path
    response = page.goto(url, wait_until="load")

    assert response.status == status
    title = page.title().strip()
    assert title and title != "– Weprode", f"empty <title>: {title!r}"
    assert page.locator("h1").first.inner_text().strip(), "no <h1> with text"
    style = page.evaluate(STYLESHEET_JS)
    assert style["rules"] > 0, "site.css is not loaded (blocked, missing or empty)"
    assert style["fontFamily"] != DEFAULT_FONT_FAMILY, "body still uses the browser's font"
    assert style["margin"] != DEFAULT_BODY_MARGIN, "body still has the browser's margin"
    problems = [p for p in browser_problems if not is_expected_404_report(p, url)]
    assert not problems, f"console errors, page errors or CSP violations:\n{describe(problems)}"


def test_error_capture_reports_csp_violations(page, live_server, browser_problems):
    # Guards the guard: if CSP violations stopped reaching the console capture, the test
    # above would pass for the wrong reason.
    page.goto(live_server.url + "/")
    assert not browser_problems, describe(browser_problems)
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.inlineScriptRan = true";
                document.body.appendChild(script);
            }"""
        )
    assert page.evaluate("() => window.inlineScriptRan") is None
    assert any("Content Security Policy" in p.text for p in browser_problems), describe(
        browser_problems
    )


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_has_no_serious_accessibility_violations(page, live_server, path):
    page.goto(live_server.url + path, wait_until="load")
    assert_no_serious_axe_violations(page, path)


def test_first_tab_focuses_a_visible_skip_link_to_main_content(page, live_server):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    focused = active_element(page)

    assert focused["tag"] == "a" and focused["href"] == "#main", focused
    text = focused["text"].lower()
    assert "skip" in text and "content" in text, focused["text"]
    assert focused["onScreen"], "the skip link stays hidden when it has focus"
    assert has_visible_focus_indicator(focused), focused


def test_skip_link_moves_keyboard_focus_into_main(page, live_server):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    assert page.evaluate("() => location.hash") == "#main"
    landed = active_element(page)
    assert landed["id"] == "main" or landed["inMain"], f"focus stayed outside main: {landed}"
    page.keyboard.press("Tab")
    after = active_element(page)
    assert after["inMain"], f"Tab after the skip link went outside main: {after}"


def test_tabbing_reaches_header_links_with_a_visible_focus_indicator(page, live_server):
    page.goto(live_server.url + "/")
    seen = tab_until(page, lambda element: element["inHeaderNav"])

    without_indicator = [e for e in seen if not has_visible_focus_indicator(e)]
    assert not without_indicator, f"focused without a visible outline: {without_indicator}"
    assert all(e["onScreen"] for e in seen), f"focus went off screen: {seen}"


def test_enter_on_services_nav_link_opens_services(page, live_server, browser_problems):
    page.goto(live_server.url + "/")
    tab_until(page, lambda e: e["inHeaderNav"] and e["text"] == "Services")

    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")

    assert navigation.value.status == 200
    assert page.url == live_server.url + "/services"
    assert not browser_problems, describe(browser_problems)


@pytest.mark.parametrize("path", ["/legal", "/privacy"])
def test_footer_link_opens_its_page(page, live_server, path):
    page.goto(live_server.url + "/")
    link = page.locator(f'footer a[href="{path}"]')
    assert link.count() == 1, f"the footer should link to {path} once"
    assert link.inner_text().strip()

    with page.expect_navigation() as navigation:
        link.click()

    assert navigation.value.status == 200
    assert page.url == live_server.url + path
    assert page.locator("h1").first.inner_text().strip()


def test_visiting_every_public_page_sets_no_cookie(page, context, live_server):
    for path in ALL_PAGES:
        page.goto(live_server.url + path)
    assert context.cookies() == []


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_does_not_scroll_sideways_on_a_phone(browser, live_server, path):
    phone = browser.new_context(
        viewport={"width": MOBILE_WIDTH, "height": 812},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = phone.new_page()
        page.goto(live_server.url + path, wait_until="load")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        wide = page.evaluate(
            """(limit) => Array.from(document.querySelectorAll("body *"))
                .filter(el => el.getBoundingClientRect().right > limit + 1)
                .slice(0, 5)
                .map(el => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""))""",
            MOBILE_WIDTH,
        )
    finally:
        phone.close()
    assert width <= MOBILE_WIDTH + 1, f"{path} is {width}px wide at {MOBILE_WIDTH}px: {wide}"
