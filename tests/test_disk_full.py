"""A full disk: public forms and one-click answer a clear 503, nothing half-written
remains, and the same running app works again once space is back (issue 12, item 6).

The database lives on a small tmpfs mounted by the test, filled with a file until the
kernel answers ENOSPC; deleting that file gives the space back.
"""

import errno
import os
import subprocess

import pytest
from campaign_helpers import add_subscribers
from contact_helpers import VALID_CONTACT, send_contact
from newsletter_helpers import sign_up, unsubscribe_path

from weprode.db import checkpoint, connect
from weprode.newsletter import subscribers


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted afterwards; skipped where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.fixture
def app_config(app_config, small_disk):
    return {
        **app_config,
        "DATABASE": str(small_disk / "weprode.sqlite3"),
        "LOG_FOLDER": str(small_disk / "logs"),
    }


def fill(disk):
    """Write a filler file until the disk is full; return its path."""
    filler = disk / "filler"
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, block)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_gets_a_clear_503_and_service_resumes_when_space_is_back(
    app, db, client, small_disk, mailbox
):
    [jane] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    one_click = unsubscribe_path(app, jane)
    assert checkpoint(db)  # an empty WAL: the next write needs new space
    filler = fill(small_disk)

    signup = sign_up(client, email="new.reader@example.org")
    assert signup.status_code == 503
    assert "Nothing was saved" in signup.get_data(as_text=True)
    assert int(signup.headers["Retry-After"]) > 0
    contact = send_contact(client)
    assert contact.status_code == 503
    clicked = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 503

    # Nothing half-written: no trace of the signup or the contact request, Jane unchanged.
    assert subscribers.find_by_email(db, "new.reader@example.org") is None
    assert db["prospects"].count == 0
    assert db["outbox"].count == 0
    assert subscribers.get(db, jane)["status"] == "active"
    assert mailbox.messages == []

    os.remove(filler)
    assert sign_up(client, email="new.reader@example.org").status_code == 200
    assert send_contact(client).status_code in (200, 302, 303)
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert subscribers.get(db, jane)["status"] == "churned"
    assert subscribers.find_by_email(db, "new.reader@example.org")["status"] == "pending"
    check = connect(app.config["DATABASE"])
    assert [row[0] for row in check.execute("PRAGMA integrity_check")] == ["ok"]
    check.close()


def test_a_french_visitor_gets_the_message_in_french(app, client, small_disk):
    fill(small_disk)
    response = client.post("/contact?lang=fr", data=VALID_CONTACT)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Rien n’a été enregistré" in page
