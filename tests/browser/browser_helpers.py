"""What the browser tests share: axe checks, reading problems, submitting, keyboard moves."""

import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe

SERIOUS_IMPACTS = {"serious", "critical"}

axe = Axe()

# What has focus: enough for predicates to recognise a field, a link or a button, and
# whether it sits in the page's main content or in the footer.
FOCUSED_JS = """() => {
    const el = document.activeElement;
    return {
        tag: el.tagName.toLowerCase(),
        id: el.id,
        type: el.getAttribute("type"),
        text: (el.innerText || "").trim(),
        inMain: el.closest("main") !== null,
        inFooter: el.closest("footer") !== null,
    };
}"""


def assert_no_serious_axe_violations(page, what):
    """Fail with one line per serious or critical axe violation on `what`, and its nodes."""
    violations = axe.run(page).response["violations"]
    serious = [v for v in violations if v["impact"] in SERIOUS_IMPACTS]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} [{v['helpUrl']}]\n"
        + "\n".join(f"    {node['target']} {node['html'][:160]}" for node in v["nodes"])
        for v in serious
    )
    assert not serious, f"axe found serious or critical violations on {what}:\n{report}"


def describe(problems):
    """The browser problems one a line, for an assertion's message."""
    return "\n".join(str(problem) for problem in problems)


def split_status_reports(problems, status, url_matches):
    """(Chromium's console reports of `status` for URLs `url_matches` accepts, the rest).

    Chromium logs every 4xx answer as a console error. A test that asked for one (a form
    sent back with errors, a wrong password) counts those and expects nothing else.
    """
    expected = [
        p
        for p in problems
        if p.kind == "console" and url_matches(p.url) and f"status of {status}" in p.text
    ]
    return expected, [p for p in problems if p not in expected]


def submit(page, button):
    """Click a form's button; return the response of the page it leads to."""
    with page.expect_navigation() as navigation:
        button.click()
    return navigation.value


def heading(page):
    """The page's <h1> text."""
    return page.locator("h1").inner_text().strip()


def field_error(page, field_id):
    """The error text tied to a field by aria-describedby, or None."""
    field = page.locator(f"#{field_id}")
    if field.get_attribute("aria-invalid") != "true":
        return None
    described_by = field.get_attribute("aria-describedby").split()
    errors = [ref for ref in described_by if ref.endswith("-error")]
    assert len(errors) == 1, described_by
    return page.locator(f"#{errors[0]}").inner_text().strip()


def stat(page, label):
    """The figure shown under a label (dashboard, campaign page)."""
    return page.locator(".stat", has=page.locator("dt", has_text=label)).locator("dd").inner_text()


def unique_address(label):
    """A fresh lower-case address, so tests never meet each other's records."""
    return f"{label}-{uuid.uuid4().hex[:10]}@example.org"


def focused(page):
    """What has focus, as FOCUSED_JS describes it."""
    return page.evaluate(FOCUSED_JS)


def tab_until(page, predicate, limit):
    """Press Tab until the focused element matches; fail with the path taken if it never does."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        if predicate(seen[-1]):
            return seen[-1]
    walked = [f"{e['tag']}#{e['id']} {e['text'][:30]!r}" for e in seen]
    pytest.fail(f"no match after {limit} Tab presses; focus went to: {walked}")


def staff_page_at(context, base, email, password, width, button="Log in"):
    """A new page `width` px wide, signed in to the staff area at `base`."""
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(base + "/admin/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    submit(page, page.get_by_role("button", name=button))
    return page
