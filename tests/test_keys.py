"""Every process signs with the database's key, and suppressions outlive key rotation.

Issue 16: a CLI run without the service's settings generated a new key and wrote an
erasure's suppression under it; dropping an old key from the fallbacks un-suppressed
everyone who left under it. Each test states the promise it keeps.
"""

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from campaign_helpers import add_subscribers
from newsletter_helpers import import_confirmed

from weprode import create_app, keys, tokens
from weprode.config import ConfigError
from weprode.db import connect
from weprode.migrations import migrations
from weprode.newsletter import optout, subscribers
from weprode.privacy.rights import service as rights

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEY_A = "key-a-the-first-production-key-0123456789abcdef"
KEY_B = "key-b-the-key-after-the-rotation-0123456789abcd"
KEY_C = "key-c-a-key-this-database-never-knew-0123456789"


@pytest.fixture
def app_config(app_config):
    """The test app signs with KEY_A."""
    return {**app_config, "SECRET_KEY": KEY_A}


def migrated(app):
    """`flask migrate` as the deployment runs it: records the key."""
    result = app.test_cli_runner().invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    return app


def stored_keys(db):
    return db.execute(
        "SELECT key_fingerprint, wrapped_suppression_key FROM instance_keys"
    ).fetchall()


def test_migrate_records_a_fingerprint_of_the_key_never_the_key(app, db):
    migrated(app)
    [(fingerprint, wrapped)] = stored_keys(db)
    assert fingerprint == keys.fingerprint(KEY_A)
    assert KEY_A not in fingerprint + wrapped
    # A copy of the database alone does not hold the suppression key.
    assert bytes.fromhex(wrapped) != keys.hash_key(KEY_A)
    assert keys.unwrap(wrapped, KEY_A) == keys.hash_key(KEY_A)
    assert keys.unwrap(wrapped, KEY_C) != keys.hash_key(KEY_A)


def test_a_process_with_another_key_is_refused_at_start(app, make_app, app_config):
    migrated(app)
    with pytest.raises(keys.KeyMismatch, match="is not the key the database"):
        make_app(DATABASE=app_config["DATABASE"], SECRET_KEY=KEY_C)


def test_a_process_started_before_the_migration_checks_its_key_at_first_use(app_config, tmp_path):
    """A worker started while `migrate` was still running: its first hash is checked."""
    fresh = {**app_config, "DATABASE": str(tmp_path / "fresh.sqlite3")}
    stranger = create_app({**fresh, "SECRET_KEY": KEY_C}, instance_path=tmp_path / "stranger")
    migrated(create_app(fresh, instance_path=tmp_path / "deployed"))
    with stranger.app_context(), pytest.raises(keys.KeyMismatch):
        tokens.address_hash("jane.doe@example.org")


def test_no_key_is_generated_for_a_database_that_holds_data(app, app_config, tmp_path):
    migrated(app)
    shell = tmp_path / "instance-of-a-bare-shell"
    config = {**app_config, "SECRET_KEY": None}
    with pytest.raises(ConfigError, match="secret_key is missing") as refused:
        create_app(config, instance_path=shell)
    assert "Restore" in str(refused.value)
    assert not (shell / "secret_key").exists()


def test_rotation_moves_the_database_to_the_new_key_and_refuses_the_old(app, make_app, app_config):
    database = app_config["DATABASE"]
    migrated(app)
    make_app(DATABASE=database, SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[KEY_A])
    assert make_app(DATABASE=database, SECRET_KEY=KEY_B)  # the old key dropped: fine
    with pytest.raises(keys.KeyMismatch):
        make_app(DATABASE=database, SECRET_KEY=KEY_A)  # a process left on the old key


def erased_under_key_a(app, db):
    """Jane erased herself and Sam unsubscribed while KEY_A signed; Kim stays."""
    migrated(app)
    jane, sam, _kim = add_subscribers(
        app,
        db,
        [
            ("jane.doe@example.org", "Jane", "fr"),
            ("sam@example.org", "Sam", "en"),
            ("kim@example.org", "Kim", "en"),
        ],
    )
    with app.app_context():
        request_id = rights.record_offline(db, "jane.doe@example.org", "erase", NOW)
        rights.erase(db, request_id, NOW)
        optout.unsubscribe(db, sam, "one-click", NOW)
    assert subscribers.get(db, jane) is None


def test_suppression_survives_key_rotation_after_the_old_key_is_dropped(
    app, make_app, app_config, db
):
    erased_under_key_a(app, db)
    database = app_config["DATABASE"]
    make_app(DATABASE=database, SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[KEY_A])
    after = make_app(DATABASE=database, SECRET_KEY=KEY_B)  # KEY_A is gone for good
    with after.app_context():
        for email in ("jane.doe@example.org", "sam@example.org"):
            assert subscribers.is_suppressed(db, email), email
            with pytest.raises(subscribers.SuppressedAddress):
                subscribers.add_confirmed(db, email, "staff list", NOW)
        assert not subscribers.is_suppressed(db, "kim@example.org")
        report = import_confirmed(
            db, ["jane.doe@example.org", "sam@example.org", "new@example.org"], NOW
        )
    assert [line for line, _masked in report.refused_suppressed] == [2, 3]
    assert report.added == 1


def test_hashes_stored_before_the_upgrade_still_match_after_the_old_key_is_dropped(
    app, make_app, app_config, db
):
    """A database from before suppressions had their own key: rows hashed by KEY_A."""
    before = app
    legacy = hmac.new(keys.hash_key(KEY_A), b"eve@example.org", hashlib.sha256).hexdigest()
    db["suppressions"].insert(
        {"address_hash": legacy, "created_at": "2025-01-01", "source": "erasure"}
    )
    with before.app_context():
        assert subscribers.is_suppressed(db, "eve@example.org")
    migrated(before)  # the upgrade's `flask migrate` records KEY_A
    database = app_config["DATABASE"]
    make_app(DATABASE=database, SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=[KEY_A])
    after = make_app(DATABASE=database, SECRET_KEY=KEY_B)
    with after.app_context():
        assert subscribers.is_suppressed(db, "eve@example.org")


def test_processes_starting_together_agree_on_one_suppression_key(app, make_app, app_config, db):
    first, second = app, make_app(DATABASE=app_config["DATABASE"])
    with first.app_context():
        one = keys.suppression_key()
    with second.app_context():
        assert keys.suppression_key() == one
    assert len(stored_keys(db)) == 1


# What databases already hold must keep matching after any deployment: a changed
# context would refuse every process ("another key") or lose the suppression key.
GOLDEN_KEY = "golden-key-that-never-changes-0123456789"
GOLDEN_FINGERPRINT = "d7c76731a694d51e0a72cf50799898d005299290a6c09090a8e960399a1683d7"
GOLDEN_WRAPPED = "b8dbaaca51cf435104727b61afc2f6d335a77e7a306d8539839eb942c8a727dd"


def test_fingerprints_and_wrapped_keys_already_stored_still_match_after_any_deployment():
    assert keys.fingerprint(GOLDEN_KEY) == GOLDEN_FINGERPRINT
    assert keys.wrap(keys.hash_key(GOLDEN_KEY), GOLDEN_KEY) == GOLDEN_WRAPPED
    assert keys.unwrap(GOLDEN_WRAPPED, GOLDEN_KEY) == keys.hash_key(GOLDEN_KEY)
    # Three purposes, three different values from one key.
    derived = {keys.fingerprint(GOLDEN_KEY), GOLDEN_WRAPPED, keys.hash_key(GOLDEN_KEY).hex()}
    assert len(derived) == 3


def test_a_key_given_as_bytes_is_the_same_key_as_its_text():
    text = "a-key-given-as-bytes-in-instance-config-0123456789"
    assert keys.fingerprint(text.encode()) == keys.fingerprint(text)
    assert keys.hash_key(text.encode()) == keys.hash_key(text)


def test_the_refusal_names_the_database_and_the_fix(app, make_app, app_config):
    migrated(app)
    with pytest.raises(keys.KeyMismatch) as refused:
        make_app(DATABASE=app_config["DATABASE"], SECRET_KEY=KEY_C)
    message = str(refused.value)
    assert f"the database {app_config['DATABASE']} is signed" in message
    # What is at stake, so the operator does not just force it through.
    assert "with (nor its successor during a rotation). Links it signs would be" in message
    assert "refused and suppressions it records lost." in message
    assert "Give every process the same configuration: set SECRET_KEY" in message
    assert "set SECRET_KEY in instance/config.py" in message
    assert "restore instance/secret_key from the backup" in message
    assert "keep the old key in SECRET_KEY_FALLBACKS" in message


def test_a_database_migrated_before_the_key_record_existed_hashes_without_error(
    app_config, tmp_path
):
    """Tables exist but not instance_keys yet: the hash is the one the record will hold."""
    database = tmp_path / "older.sqlite3"
    older = connect(database)
    migrations.apply(older, stop_before="0016_instance_keys")
    older.close()
    app = create_app({**app_config, "DATABASE": str(database)}, instance_path=tmp_path / "i")
    with app.app_context():
        assert keys.suppression_key() == keys.hash_key(KEY_A)
