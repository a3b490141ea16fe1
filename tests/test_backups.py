"""Backups: online, whole, private, with their keys; expiry; restoring one (issue 12)."""

import json
import os
import re
import stat
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from campaign_helpers import add_subscribers, new_campaign, send
from contact_helpers import send_contact

from weprode import create_app
from weprode.db import connect, utcnow
from weprode.newsletter import optout, subscribers
from weprode.operations import backups
from weprode.privacy.rights import service as rights


def backup_now(runner, *args):
    result = runner.invoke(args=["backup", "create", *args])
    assert result.exit_code == 0, result.output
    return re.search(r"^(\S+\.sqlite3) ", result.output, re.M).group(1)


def test_a_backup_taken_while_the_site_writes_is_whole_private_and_keeps_its_keys(
    app, db, runner, tmp_path
):
    """A writer on another connection keeps committing during the backup."""
    stop = threading.Event()
    written = []

    def keep_writing():
        writer = connect(app.config["DATABASE"])
        while not stop.is_set():
            with writer.conn:
                writer.execute(
                    "INSERT INTO subscribers (email, status, source, created_at) "
                    "VALUES (?, 'active', 'test', '2026-11-29')",
                    [f"writer{len(written)}@example.org"],
                )
            written.append(1)
        writer.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        while len(written) < 50:
            pass
        path = backup_now(runner, "--output", str(tmp_path / "out"))
    finally:
        stop.set()
        thread.join()
    assert backups.integrity_problems(path) == []
    copied = connect(path)
    assert 50 <= copied["subscribers"].count <= len(written)
    copied.close()
    keys_file = path.removesuffix(".sqlite3") + ".keys.json"
    assert json.loads(open(keys_file).read())["SECRET_KEY"] == app.config["SECRET_KEY"]
    for private in (path, keys_file):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600, private
    assert stat.S_IMODE(os.stat(tmp_path / "out").st_mode) == 0o700
    assert not [name for name in os.listdir(tmp_path / "out") if "partial" in name]


def test_backups_go_to_the_instance_folder_and_are_listed_oldest_first(app, runner):
    first = backup_now(runner)
    folder = Path(app.instance_path) / "backups"
    assert Path(first).parent == folder
    earlier = utcnow() - timedelta(days=2)
    older = backups.create(app.config["DATABASE"], folder, app.config, earlier)
    listed = runner.invoke(args=["backup", "list"]).output.splitlines()
    assert [line.split()[-1] for line in listed] == [str(older.path), first]
    assert listed[0].startswith(f"{earlier:%Y-%m-%d %H:%M:%S} UTC")


def test_backups_older_than_the_kept_days_are_deleted_with_their_keys(app, runner, tmp_path):
    folder = tmp_path / "kept"
    now = utcnow()
    old = backups.create(app.config["DATABASE"], folder, app.config, now - timedelta(days=31))
    recent = backups.create(app.config["DATABASE"], folder, app.config, now - timedelta(days=29))
    result = runner.invoke(args=["backup", "create", "--output", str(folder)])
    assert f"deleted {old.path.name} (older than 30 days)" in result.output
    assert not old.path.exists() and not old.keys_path.exists()
    assert recent.path.exists() and recent.keys_path.exists()
    assert len(backups.listing(folder)) == 2


def test_the_privacy_page_says_how_long_backups_keep_data(make_app):
    client = make_app(BACKUP_KEEP_DAYS=14).test_client()
    english = client.get("/privacy").get_data(as_text=True)
    assert "Backup copies of this website’s database" in english
    assert "14 days" in english
    french = client.get("/privacy?lang=fr").get_data(as_text=True)
    assert "Copies de sauvegarde de la base de données du site" in french
    assert "14 jours" in french


def one_click_link(message):
    return re.fullmatch(r"<http://localhost(/unsubscribe/[^>]+)>", message["List-Unsubscribe"])[1]


def test_a_restored_backup_honours_an_opt_out_link_mailed_before_it(
    app, db, runner, mailbox, app_config, tmp_path
):
    [jane] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    send(app, db, new_campaign(db))
    link = one_click_link(mailbox.wait_for(1)[0])
    path = backup_now(runner)
    keys_file = json.loads(open(path.removesuffix(".sqlite3") + ".keys.json").read())

    # A fresh machine: an empty instance, the keys from the backup, the backup restored.
    fresh = tmp_path / "fresh"
    config = {**app_config, **keys_file, "DATABASE": str(fresh / "weprode.sqlite3")}
    restorer = create_app(config, instance_path=fresh)
    result = restorer.test_cli_runner().invoke(args=["backup", "restore", path, "--yes"])
    assert result.exit_code == 0, result.output
    restored = create_app(config, instance_path=fresh)
    response = restored.test_client().post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    after = connect(config["DATABASE"])
    assert subscribers.get(after, jane)["status"] == "churned"
    after.close()


def test_restore_refuses_while_another_process_has_the_database_open(app, runner):
    path = backup_now(runner)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT count(*) FROM subscribers').fetchone(); print('open', flush=True); "
            "time.sleep(60)",
            app.config["DATABASE"],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = runner.invoke(args=["backup", "restore", path, "--yes"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"in use by process(es) {holder.pid}" in result.output
    assert "systemctl stop weprode-web weprode-worker" in result.output


def test_restore_refuses_a_backup_signed_with_another_key(app, runner, make_app):
    assert runner.invoke(args=["migrate"]).exit_code == 0  # records the key
    path = backup_now(runner)
    stranger = make_app(SECRET_KEY="another-key-that-is-long-enough-0123456789ab")
    result = stranger.test_cli_runner().invoke(args=["backup", "restore", path, "--yes"])
    assert result.exit_code == 1
    assert "signed with another SECRET_KEY" in result.output
    assert ".keys.json" in result.output


def test_restore_refuses_a_damaged_backup_and_keeps_the_database(app, db, runner, tmp_path):
    [jane] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    path = backup_now(runner)
    size = os.path.getsize(path)
    with open(path, "r+b") as damaged:  # every page after the first, overwritten
        damaged.seek(4096)
        damaged.write(b"\xa5" * (size - 4096))
    result = runner.invoke(args=["backup", "restore", path, "--yes"])
    assert result.exit_code == 1
    assert "is damaged" in result.output
    assert subscribers.get(db, jane) is not None


def test_restore_asks_first_and_a_no_changes_nothing(app, db, runner):
    path = backup_now(runner)
    [jane] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    result = runner.invoke(args=["backup", "restore", path], input="n\n")
    assert result.exit_code == 1
    assert "Replace" in result.output
    assert subscribers.get(db, jane) is not None


def test_restore_rejects_a_file_that_is_not_a_backup(runner, tmp_path):
    stray = tmp_path / "notes.sqlite3"
    stray.write_text("hello")
    result = runner.invoke(args=["backup", "restore", str(stray), "--yes"])
    assert result.exit_code == 1
    assert "is not a backup" in result.output


def test_a_restore_keeps_the_unsubscribes_and_erasures_made_after_the_backup(
    app, db, runner, client
):
    jane, sam, kim, eve = add_subscribers(
        app,
        db,
        [
            ("jane.doe@example.org", "Jane", "en"),
            ("sam@example.org", "Sam", "en"),
            ("kim@example.org", "Kim", "fr"),
            ("eve@example.org", "Eve", "en"),
        ],
    )
    assert send_contact(client).status_code in (200, 302, 303)  # Jane is a prospect too
    path = backup_now(runner)
    now = utcnow()
    with app.app_context():
        optout.unsubscribe(db, sam, "one-click", now)
        for email in ("jane.doe@example.org", "eve@example.org"):
            rights.erase(db, rights.record_offline(db, email, "erase", now), now)

    result = runner.invoke(args=["backup", "restore", path, "--yes"])
    assert result.exit_code == 0, result.output
    assert (
        "carried over 3 suppressions recorded since the backup: "
        "1 unsubscribed again, 2 erased again\n"
    ) in result.output
    restored = connect(app.config["DATABASE"])
    assert subscribers.get(restored, sam)["status"] == "churned"
    assert subscribers.get(restored, sam)["churn_source"] == "restore"
    assert subscribers.get(restored, jane) is None
    assert subscribers.get(restored, eve) is None
    assert restored.execute("SELECT count(*) FROM prospects").fetchone()[0] == 0
    assert subscribers.get(restored, kim)["status"] == "active"
    with app.app_context():
        assert subscribers.is_suppressed(restored, "jane.doe@example.org")
        assert subscribers.is_suppressed(restored, "sam@example.org")
        assert not subscribers.is_suppressed(restored, "kim@example.org")
    restored.close()


def test_a_restore_counts_only_what_happened_after_the_backup_and_keeps_objections(
    app, db, runner, client
):
    """Ann left before the backup; Sam and Lou after it; Olga, only a prospect, objected."""
    ann, sam, lou = add_subscribers(
        app,
        db,
        [
            ("ann@example.org", "Ann", "en"),
            ("sam@example.org", "Sam", "en"),
            ("lou@example.org", "Lou", "fr"),
        ],
    )
    assert send_contact(client, email="olga@example.org").status_code in (200, 302, 303)
    with app.app_context():
        optout.unsubscribe(db, ann, "page", utcnow())
    path = backup_now(runner)
    now = utcnow()
    with app.app_context():
        optout.unsubscribe(db, sam, "one-click", now)
        optout.unsubscribe(db, lou, "one-click", now)
        olga_request = rights.record_offline(db, "olga@example.org", "object", now)
        rights.object_to_marketing(db, olga_request, now)

    result = runner.invoke(args=["backup", "restore", path, "--yes"])
    assert result.exit_code == 0, result.output
    assert (  # not Ann's: already in the backup
        "carried over 3 suppressions recorded since the backup: "
        "2 unsubscribed again, 0 erased again\n"
    ) in result.output
    restored = connect(app.config["DATABASE"])
    assert subscribers.get(restored, ann)["churn_source"] == "page"  # untouched
    assert [subscribers.get(restored, who)["status"] for who in (sam, lou)] == ["churned"] * 2
    (flag,) = restored.execute(
        "SELECT marketing_objection_at FROM prospects WHERE email = 'olga@example.org'"
    ).fetchone()
    assert flag is not None  # her objection holds for prospecting too
    assert restored.execute("SELECT source FROM suppressions ORDER BY source").fetchall() == [
        ("objection",),
        ("unsubscribe",),
        ("unsubscribe",),
        ("unsubscribe",),
    ]
    restored.close()
