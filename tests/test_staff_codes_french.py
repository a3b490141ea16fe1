"""Codes stored in the database (audit actions, how someone left, which kind of mail) reach
French staff as French words, never as the raw code."""

import ast
from pathlib import Path

from campaign_helpers import add_subscribers
from newsletter_helpers import unsubscribe_path
from staff_helpers import speak

from weprode.admin import labels

WEPRODE = Path(__file__).resolve().parent.parent / "weprode"


def literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def audit_codes_in_the_code():
    """Every action code the code hands to the audit log: `audit.record(db, who, CODE, ...)`,
    the campaign buttons' `action(id, CODE, ...)` and the staff commands' `change_account`."""
    codes = set()
    for path in WEPRODE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = getattr(function, "attr", getattr(function, "id", ""))
            owner = getattr(getattr(function, "value", None), "id", "")
            if name == "record" and owner == "audit" and len(node.args) > 2:
                codes.add(literal(node.args[2]))
            elif name == "action" and not owner and len(node.args) > 1:
                codes.add(literal(node.args[1]))
            elif name == "change_account" and len(node.args) > 2:
                codes.add(literal(node.args[2]))
    codes.discard(None)  # a variable: its values are found where they are literals
    return codes


def test_every_audit_action_the_code_records_has_a_french_word(app):
    codes = audit_codes_in_the_code()
    assert {"campaign_send", "login", "staff_created", "staff_enabled"} <= codes
    with app.test_request_context("/admin/"):
        app.config["STAFF_LANGUAGE"] = "fr"
        untranslated = sorted(code for code in codes if labels.audit_action(code) == code)
    assert untranslated == []


def test_the_subscriber_page_says_in_french_how_the_person_left(app, db, client, staff_client):
    [subscriber_id] = add_subscribers(app, db, [("ada@example.org", "Ada", "fr")])
    one_click = client.post(
        unsubscribe_path(app, subscriber_id), data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200
    speak(app, "fr")
    page = staff_client.get(f"/admin/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "lien en un clic d’un courriel" in page
    assert "one-click" not in page
