"""A campaign through a real Postfix; its own bounces come back through a `pipe` transport.

The app sends to a private Postfix (MAIL_SERVER). Postfix queues every message, then
relays it to a local SMTP server that accepts some recipients and refuses others with
`550 5.1.1` (or a policy `5.7.1`): the refusal comes *after* queueing, so Postfix writes
the RFC 3464 bounce itself and mails it to the VERP envelope sender. Mail for the
bounce domain goes to a `pipe` transport running `flask bounces ingest` from this
checkout's .venv, as the README tells operators to set it up.
"""

import os
import shlex
import shutil
import stat
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
from deploy_helpers import chown_tree, free_port
from postfix_helpers import (
    log_text,
    pipe_user,
    remove_tree,
    require_postfix,
    running_postfix,
    write_config,
)
from process_helpers import PROJECT_ROOT

from devtools.mailsink import start_sink
from tests.campaign_helpers import add_subscribers, new_campaign, send
from weprode.newsletter import subscribers

BOUNCES = "bounces@weprode.com"
PEOPLE = [
    ("gone@example.org", "Gone", "en"),
    ("happy@example.org", "Happy", "en"),
    ("missing@example.org", "Missing", "fr"),
    ("policy@example.org", "Policy", "en"),
    ("fine@example.org", "Fine", "fr"),
]
REFUSALS = {
    "gone@example.org": "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown",
    "missing@example.org": "550 5.1.1 <missing@example.org>: no such mailbox",
    "policy@example.org": "550 5.7.1 Message rejected by policy",
}
INGEST_SCRIPT = """#!/bin/sh
# What the README's master.cf line runs, with this test's instance and database.
cd {project} || exit 75
exec /usr/bin/env -i PATH=/usr/bin:/bin \\
    WEPRODE_INSTANCE_PATH={instance} FLASK_DATABASE={database} \\
    FLASK_SECRET_KEY={secret_key} FLASK_TESTING=true FLASK_PUBLIC_URL=http://localhost \\
    FLASK_BOUNCE_ADDRESS={bounce_address} \\
    {flask} --app app bounces ingest >>{log} 2>&1
"""
# Runs flask from the venv's packages with another interpreter of the same version.
FLASK_BOOTSTRAP = "import site; site.addsitedir({site!r}); from flask.cli import main; main()"


@pytest.fixture
def shared_folder():
    """A folder Postfix's pipe user can reach (pytest's tmp_path is private to us)."""
    root = Path(tempfile.mkdtemp(prefix="weprode-postfix-"))
    root.chmod(0o755)
    yield root
    remove_tree(root)


@pytest.fixture
def postfix_port():
    """The port the private Postfix's smtpd listens on (the app's MAIL_PORT)."""
    return free_port()


@pytest.fixture
def app_config(app_config, shared_folder, postfix_port):
    """The test app sends to the private Postfix, with VERP on, its database shared."""
    database = str(shared_folder / "site.sqlite3")
    return {
        **app_config,
        "DATABASE": database,
        "MAIL_PORT": postfix_port,
        "BOUNCE_ADDRESS": BOUNCES,
    }


@pytest.fixture
def next_hop(tmp_path):
    """The SMTP server Postfix relays to; it refuses the REFUSALS recipients."""
    port = free_port()
    controller, handler = start_sink("127.0.0.1", port, tmp_path / "next-hop")
    handler.port = port
    handler.refusals.update(REFUSALS)
    yield handler
    controller.stop()


def reachable_by_others(path):
    """True when every folder above `path` and the file itself are open to other users."""
    path = Path(os.path.realpath(path))
    return all(part.stat().st_mode & stat.S_IXOTH for part in [path, *path.parents])


def flask_command():
    """How the pipe user runs this checkout's flask: the venv's own when it can.

    A venv made from a Python under a private home (pyenv in /root) cannot be run by
    another user; then the system's Python of the same version runs the venv's packages.
    """
    venv_python = PROJECT_ROOT / ".venv" / "bin" / "python"
    if reachable_by_others(venv_python):
        return str(PROJECT_ROOT / ".venv" / "bin" / "flask")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system_python = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if system_python is None or not reachable_by_others(system_python):
        pytest.skip(f"the pipe user cannot run {venv_python}, and there is no /usr/bin/{version}")
    bootstrap = FLASK_BOOTSTRAP.format(site=sysconfig.get_paths()["purelib"])
    return f"{system_python} -c {shlex.quote(bootstrap)}"


def write_ingest_script(root, app, instance):
    """The command the pipe transport runs: `bounces ingest` on the test's database."""
    script = root / "ingest.sh"
    script.write_text(
        INGEST_SCRIPT.format(
            project=PROJECT_ROOT,
            flask=flask_command(),
            instance=instance,
            database=app.config["DATABASE"],
            secret_key=app.config["SECRET_KEY"],
            bounce_address=BOUNCES,
            log=root / "ingest.log",
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def wait_for_statuses(app, db, ids, expected, timeout=25.0):
    """Poll the database until the people have these statuses (Postfix works on its own)."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            statuses = {person: subscribers.get(db, person)["status"] for person in ids}
        if statuses == expected or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)


def test_postfix_bounces_reach_ingest_through_a_pipe(
    app, db, shared_folder, postfix_port, next_hop
):
    postfix = require_postfix()
    root = shared_folder
    user, uid, gid = pipe_user()
    instance = root / "instance"
    instance.mkdir()
    # The pipe user writes the database (and SQLite's -wal and -shm beside it).
    chown_tree(root, uid, gid)
    script = write_ingest_script(root, app, instance)
    conf = write_config(
        root,
        port=postfix_port,
        next_hop_port=next_hop.port,
        bounce_domain="weprode.com",
        pipe_command=script,
        user=user,
    )
    ids = add_subscribers(app, db, PEOPLE)
    people = dict(zip([email for email, _, _ in PEOPLE], ids, strict=True))
    with running_postfix(postfix, conf, root):
        campaign_id = new_campaign(db)
        assert send(app, db, campaign_id) == "sent"  # Postfix queued them all
        next_hop.wait_for(2, timeout=20)
        expected = {person: "active" for person in ids}
        expected[people["gone@example.org"]] = "bounced"
        expected[people["missing@example.org"]] = "bounced"
        statuses = wait_for_statuses(app, db, ids, expected)
        policy_seen = wait_for_event(db, people["policy@example.org"])
    ingest_log = (root / "ingest.log").read_text() if (root / "ingest.log").exists() else ""
    diagnosis = f"ingest output:\n{ingest_log}\npostfix log:\n{log_text(root)}"
    assert statuses == expected, diagnosis
    assert policy_seen, diagnosis
    # Postfix delivered the others, each with its own VERP envelope sender.
    delivered = sorted(rcpt[0] for _, rcpt in next_hop.envelopes)
    assert delivered == ["fine@example.org", "happy@example.org"]
    assert all(sender.startswith("bounces+") for sender, _ in next_hop.envelopes)

    events = {
        row["subscriber_id"]: (
            row["severity"],
            row["source"],
            row["status_code"],
            row["campaign_id"],
        )
        for row in db.query("SELECT * FROM bounce_events")
    }
    assert events == {
        people["gone@example.org"]: ("hard", "report", "5.1.1", campaign_id),
        people["missing@example.org"]: ("hard", "report", "5.1.1", campaign_id),
        people["policy@example.org"]: ("policy", "report", "5.7.1", campaign_id),
    }, diagnosis
    reports = list(db.query("SELECT kind, message FROM bounce_reports"))
    assert [row["kind"] for row in reports] == ["bounce"] * 3
    # Postfix's own RFC 3464 reports, as its bounce daemon wrote them.
    assert all(b"message/delivery-status" in row["message"] for row in reports)
    assert all(b"MAILER-DAEMON" in row["message"] for row in reports)
    assert ingest_log.count("via VERP tag") == 3, ingest_log
    with app.app_context():
        for email in ("gone@example.org", "missing@example.org"):
            assert subscribers.suppression_sources(db, email) == {"bounce"}


def wait_for_event(db, subscriber_id, timeout=10.0):
    """True once a bounce event for the person is stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        query = "SELECT count(*) FROM bounce_events WHERE subscriber_id = ?"
        if db.execute(query, [subscriber_id]).fetchone()[0]:
            return True
        time.sleep(0.2)
    return False
