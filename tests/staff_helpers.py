"""Helpers for staff-area tests: an account, CSRF tokens, logging in."""

import re

STAFF_EMAIL = "marketing@weprode.com"
STAFF_PASSWORD = "Correct-Horse-Battery-42"
# The staff member of tests that check English wording and UTC times; new accounts are
# French in Europe/Paris by default.
ENGLISH_STAFF = {"language": "en", "time_zone": "UTC"}


def csrf_token(client, path):
    """The CSRF token of the form on `path`."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client, email=STAFF_EMAIL, password=STAFF_PASSWORD, remote_addr=None, **headers):
    """Submit the login form as a browser would (from `remote_addr` when given)."""
    token = csrf_token(client, "/admin/login")
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
        environ_base={"REMOTE_ADDR": remote_addr} if remote_addr else {},
    )


def speak(app, language):
    """Every staff account of `app` reads the staff area in `language` from its next page."""
    from weprode.db import connect

    db = connect(app.config["DATABASE"])
    try:
        db.execute("UPDATE staff SET language = ?", [language])
    finally:
        db.close()


def send_box(client, path):
    """The send form's fields on the campaign page `path`, as the page shows them: the
    CSRF token and the hidden audience, topic and segment staff confirm."""
    html = client.get(path).get_data(as_text=True)
    form = re.search(r'action="[^"]*/send".*?</form>', html, re.S)
    assert form, f"no send box on {path}"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))
    fields["csrf_token"] = csrf_token(client, path)
    return fields
