"""Promises of `tokens`: key rotation, one salt per purpose, exact expiry, no forgery.

Written against mutation-testing survivors (issue 17): each test names the promise it
pins, and would fail if one token of `tokens.py` (or of the suppression code built on
it) changed.
"""

import hashlib
import hmac
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from campaign_helpers import add_subscribers, new_campaign, send
from newsletter_helpers import import_confirmed, link_path, sign_up

from weprode import keys as keys_module
from weprode import tokens
from weprode.newsletter import optout, subscribers

ISSUED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
NEW_KEY = "a-brand-new-secret-key-after-rotation-0123456789"
OLDER_KEY = "an-even-older-secret-key-from-two-rotations-ago-42"
OTHER_KEY = "a-key-this-site-never-had-at-all-0123456789abcdef"

# purpose -> (make a token for subscriber 7, check it at `now`); timed ones issued at ISSUED.
PURPOSES = {
    "confirm": (
        lambda: tokens.make_confirm_token(7, ISSUED),
        lambda token, now: tokens.check_confirm_token(token, now),
    ),
    "undo": (
        lambda: tokens.make_undo_token(7, ISSUED),
        lambda token, now: tokens.check_undo_token(token, now),
    ),
    "rights": (
        lambda: tokens.make_rights_token(7, ISSUED),
        lambda token, now: tokens.check_rights_token(token, now),
    ),
    "unsubscribe": (
        lambda: tokens.make_unsubscribe_token(7, 3),
        lambda token, now: tokens.check_unsubscribe_token(token),
    ),
    "unsubscribe_fast": (
        lambda: tokens.unsubscribe_token_maker(3)(7),
        lambda token, now: tokens.check_unsubscribe_token(token),
    ),
    "manage": (
        lambda: tokens.make_manage_token(7),
        lambda token, now: tokens.check_manage_token(token),
    ),
    "manage_fast": (
        lambda: tokens.manage_token_maker()(7),
        lambda token, now: tokens.check_manage_token(token),
    ),
}
EXPECTED_PAYLOAD = {
    "confirm": (7, ISSUED),
    "undo": (7, ISSUED),
    "rights": (7, ISSUED),
    "unsubscribe": (7, 3),
    "unsubscribe_fast": (7, 3),
    "manage": (7,),
    "manage_fast": (7,),
}
# How long each timed token lives with the default configuration.
MAX_AGES = {
    "confirm": timedelta(days=7),
    "undo": timedelta(hours=24),
    "rights": timedelta(hours=1),
}


@contextmanager
def keys(app, secret, fallbacks=()):
    """An app context in which the app signs with `secret` and also accepts `fallbacks`."""
    saved = app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"]
    app.config.update(SECRET_KEY=secret, SECRET_KEY_FALLBACKS=list(fallbacks))
    try:
        with app.app_context():
            yield
    finally:
        app.config.update(SECRET_KEY=saved[0], SECRET_KEY_FALLBACKS=saved[1])


def make(purpose):
    return PURPOSES[purpose][0]()


def check(purpose, token, now=ISSUED):
    return PURPOSES[purpose][1](token, now)


def signed(salt, payload):
    """A token correctly signed with the current key for `salt`, whatever its payload."""
    return tokens.serializer(salt).dumps(payload)


# Key rotation -------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
def test_old_links_work_after_rotation_and_stop_when_the_old_key_is_dropped(app, purpose):
    old_key = app.config["SECRET_KEY"]
    with keys(app, old_key):
        token = make(purpose)
    with keys(app, NEW_KEY, [old_key]):
        outcome = check(purpose, token)
        assert (outcome.status, outcome.payload) == ("ok", EXPECTED_PAYLOAD[purpose])
    with keys(app, NEW_KEY, [OLDER_KEY, old_key]):  # a second rotation, still listed
        assert check(purpose, token).ok
    with keys(app, NEW_KEY):
        assert check(purpose, token).status == "invalid"


@pytest.mark.parametrize("purpose", PURPOSES)
def test_new_links_work_during_rotation(app, purpose):
    """Signed with the newest key, verified while old keys are still listed."""
    old_key = app.config["SECRET_KEY"]
    with keys(app, NEW_KEY, [OLDER_KEY, old_key]):
        token = make(purpose)
        outcome = check(purpose, token)
        assert (outcome.status, outcome.payload) == ("ok", EXPECTED_PAYLOAD[purpose])
    # Signed with the new key: it outlives the old keys, and the old key alone refuses it.
    with keys(app, NEW_KEY):
        assert check(purpose, token).ok
    with keys(app, old_key):
        assert check(purpose, token).status == "invalid"


def test_a_key_never_configured_verifies_nothing(app):
    with keys(app, OTHER_KEY):
        forged = {purpose: make(purpose) for purpose in PURPOSES}
    with keys(app, NEW_KEY, [OLDER_KEY, app.config["SECRET_KEY"]]):
        for purpose, token in forged.items():
            assert check(purpose, token).status == "invalid", purpose


def test_fast_unsubscribe_tokens_are_the_same_bytes_as_the_plain_ones(app):
    with keys(app, NEW_KEY, [OLDER_KEY, app.config["SECRET_KEY"]]):
        for campaign_id in (None, 3):
            maker = tokens.unsubscribe_token_maker(campaign_id)
            for subscriber_id in (1, 7, 123456):
                assert maker(subscriber_id) == tokens.make_unsubscribe_token(
                    subscriber_id, campaign_id
                )
        assert tokens.check_unsubscribe_token(tokens.unsubscribe_token_maker(None)(7)).payload == (
            7,
            None,
        )
        manage = tokens.manage_token_maker()
        for subscriber_id in (1, 7, 123456):
            assert manage(subscriber_id) == tokens.make_manage_token(subscriber_id)


def hash_under(secret, email):
    """The hash an address had when suppressions were keyed by the secret key itself."""
    return hmac.new(keys_module.hash_key(secret), email.encode(), hashlib.sha256).hexdigest()


def test_address_hashes_are_stored_under_the_suppression_key_whatever_key_signs(app, runner):
    assert runner.invoke(args=["migrate"]).exit_code == 0  # records the key
    email = "jane.doe@example.org"
    first_key = app.config["SECRET_KEY"]
    with keys(app, first_key):
        stored = tokens.address_hash(email)
    assert stored == hash_under(first_key, email)  # the same as before the upgrade
    for secret, fallbacks in [(NEW_KEY, [first_key]), (OTHER_KEY, []), (OLDER_KEY, [NEW_KEY])]:
        with keys(app, secret, fallbacks):
            assert tokens.address_hash(email) == stored
    # Hashes stored under a configured key before the upgrade are still looked up,
    # oldest first, the stored one last; every one is keyed.
    with keys(app, NEW_KEY, [OLDER_KEY, first_key]):
        assert tokens.address_hashes(email) == [
            hash_under(OLDER_KEY, email),
            hash_under(NEW_KEY, email),
            stored,
        ]
        assert tokens.address_hashes("someone.else@example.org")[-1] != stored


def unsubscribed_under_the_old_key(app, db):
    """Two people mailed before the rotation: Jane left, Sam stays; Eve was erased."""
    jane, _sam = add_subscribers(
        app, db, [("jane.doe@example.org", "Jane", "en"), ("sam@example.org", "Sam", "en")]
    )
    with app.app_context():
        optout.unsubscribe(db, jane, "one-click", ISSUED)
        subscribers.suppress(db, "eve@example.org", "erasure", ISSUED)
    return jane


def rotated(make_app, app, **overrides):
    """The same database after a rotation: a new key, the old one kept as a fallback."""
    config = {"SECRET_KEY": NEW_KEY, "SECRET_KEY_FALLBACKS": [app.config["SECRET_KEY"]]}
    return make_app(DATABASE=app.config["DATABASE"], **{**config, **overrides})


def test_suppression_survives_key_rotation(make_app, app, db, mailbox):
    jane = unsubscribed_under_the_old_key(app, db)
    after = rotated(make_app, app)
    with after.app_context():
        for email in ("jane.doe@example.org", "eve@example.org"):
            assert subscribers.is_suppressed(db, email), email
            with pytest.raises(subscribers.SuppressedAddress):
                subscribers.add_confirmed(db, email, "staff list", ISSUED)
        report = import_confirmed(db, ["Jane.Doe@example.org", "eve@example.org"], ISSUED)
    assert [line for line, _masked in report.refused_suppressed] == [2, 3]
    assert report.added == 0
    # Signing up again sends a confirmation but changes nothing until it is confirmed.
    assert sign_up(after.test_client()).status_code == 200
    mailbox.wait_for(1)
    assert subscribers.get(db, jane)["status"] == "churned"
    assert subscribers.find_by_email(db, "eve@example.org") is None
    # And the next campaign reaches only the person who stayed.
    mailbox.clear()
    send(after, db, new_campaign(db))
    assert [message["To"] for message in mailbox.wait_for(1)] == ["sam@example.org"]


def test_confirming_after_rotation_lifts_the_suppression_made_under_the_old_key(
    make_app, app, db, mailbox
):
    jane = unsubscribed_under_the_old_key(app, db)
    after = rotated(make_app, app)
    client = after.test_client()
    sign_up(client)
    client.post(link_path(mailbox.wait_for(1)[0], "/newsletter/confirm/"))
    assert subscribers.get(db, jane)["status"] == "active"
    with after.app_context():
        assert not subscribers.is_suppressed(db, "jane.doe@example.org")
        subscribers.add_confirmed(db, "jane.doe@example.org", "staff list", ISSUED)  # allowed
    assert db["suppressions"].count == 1  # Eve's fingerprint is untouched


def test_undo_after_rotation_lifts_the_suppression_made_under_the_old_key(make_app, app, db):
    [jane] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    with app.app_context():
        token = optout.undo_token(optout.unsubscribe(db, jane, "page", ISSUED))
    after = rotated(make_app, app)
    with after.app_context():
        assert optout.undo(db, token, ISSUED + timedelta(hours=1))[0] == "restored"
        assert not subscribers.is_suppressed(db, "jane.doe@example.org")
    assert db["suppressions"].count == 0


def test_suppression_recorded_during_rotation_outlives_the_old_key(make_app, app, db):
    [jane] = add_subscribers(app, db, [("jane.doe@example.org", "Jane", "en")])
    during = rotated(make_app, app)
    with during.app_context():
        optout.unsubscribe(db, jane, "one-click", ISSUED)
    retired = make_app(DATABASE=app.config["DATABASE"], SECRET_KEY=NEW_KEY)
    with retired.app_context():
        assert subscribers.is_suppressed(db, "jane.doe@example.org")
        with pytest.raises(subscribers.SuppressedAddress):
            subscribers.add_confirmed(db, "jane.doe@example.org", "staff list", ISSUED)


# One salt per purpose -----------------------------------------------------------------


def test_salts_are_all_different():
    salts = [
        tokens.CONFIRM_SALT,
        tokens.UNSUBSCRIBE_SALT,
        tokens.UNDO_SALT,
        tokens.RIGHTS_SALT,
        tokens.MANAGE_SALT,
        tokens.DELIVERY_TAG_SALT,
    ]
    assert len(set(salts)) == len(salts)


@pytest.mark.parametrize("made_for", PURPOSES)
def test_a_token_is_refused_by_every_other_purposes_check(app, made_for):
    """A confirm token is no unsubscribe token, and so on for every pair of purposes."""
    with app.app_context():
        token = make(made_for)
        for checked_as in PURPOSES:
            outcome = check(checked_as, token)
            if checked_as.split("_")[0] == made_for.split("_")[0]:  # plain and fast makers
                assert outcome.ok
            elif checked_as == made_for:
                assert outcome.ok
            else:
                assert outcome.status == "invalid", (made_for, checked_as)


# Expiry at the exact boundaries -------------------------------------------------------


@pytest.mark.parametrize("purpose", MAX_AGES)
def test_timed_tokens_are_ok_up_to_their_max_age_and_expired_one_second_later(app, purpose):
    max_age = MAX_AGES[purpose]
    with app.app_context():
        token = make(purpose)
        for now in (ISSUED, ISSUED + max_age - SECOND, ISSUED + max_age):
            outcome = check(purpose, token, now)
            assert (outcome.status, outcome.payload) == ("ok", (7, ISSUED)), now
        late = check(purpose, token, ISSUED + max_age + SECOND)
        assert (late.status, late.payload) == ("expired", (7, ISSUED))
        assert check(purpose, token, ISSUED + 10 * max_age).status == "expired"


@pytest.mark.parametrize("purpose", MAX_AGES)
def test_timed_tokens_tolerate_five_minutes_of_clock_skew_and_no_more(app, purpose):
    with app.app_context():
        token = make(purpose)
        assert check(purpose, token, ISSUED - timedelta(minutes=5)).ok
        assert check(purpose, token, ISSUED - timedelta(minutes=5) - SECOND).status == "expired"
        assert check(purpose, token, ISSUED - timedelta(days=1)).status == "expired"


def test_link_lifetimes_follow_the_configuration(make_app):
    app = make_app(NEWSLETTER_CONFIRM_MAX_AGE_DAYS=2, NEWSLETTER_UNDO_MAX_AGE_HOURS=3)
    with app.app_context():
        assert tokens.confirm_max_age() == timedelta(days=2)
        confirm, undo = make("confirm"), make("undo")
        assert check("confirm", confirm, ISSUED + timedelta(days=2)).ok
        assert check("confirm", confirm, ISSUED + timedelta(days=2) + SECOND).status == "expired"
        assert check("undo", undo, ISSUED + timedelta(hours=3)).ok
        assert check("undo", undo, ISSUED + timedelta(hours=3) + SECOND).status == "expired"


def test_issue_time_is_kept_to_the_second(app):
    with app.app_context():
        token = tokens.make_confirm_token(7, ISSUED + timedelta(seconds=59, microseconds=900_000))
        outcome = tokens.check_confirm_token(token, ISSUED)
    assert outcome.payload == (7, ISSUED + timedelta(seconds=59))


# Tampering ----------------------------------------------------------------------------


def tampered(token):
    """Variants of a good token that must all be refused."""
    payload, _, signature = token.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{payload}.{flipped}",
        token[:-3],
        f"{payload}.",
        f".{signature}",
        payload,
        f"{payload}x.{signature}",
        token + "é",
        "",
        ".",
        "not-a-token",
    ]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_tampered_tokens_are_invalid_never_an_error(app, purpose):
    with app.app_context():
        good = make(purpose)
        other = tokens.make_unsubscribe_token(8) if purpose.startswith("unsub") else None
        for bad in tampered(good):
            assert check(purpose, bad).status == "invalid", bad
        if other:  # another subscriber's payload under this token's signature
            swapped = other.rpartition(".")[0] + "." + good.rpartition(".")[2]
            assert check(purpose, swapped).status == "invalid"


@pytest.mark.parametrize(
    "payload",
    [[True, 5], [7, False], [7, "5"], [7.0, 5], [7, None], [7], [7, 5, 9], [], {"id": 7}, 7],
)
def test_signed_timed_tokens_of_the_wrong_shape_are_invalid(app, payload):
    with app.app_context():
        token = signed(tokens.CONFIRM_SALT, payload)
        assert tokens.check_confirm_token(token, ISSUED).status == "invalid"
        undo = signed(tokens.UNDO_SALT, payload)
        assert tokens.check_undo_token(undo, ISSUED).status == "invalid"


@pytest.mark.parametrize("payload", [[True], [7, True], ["7"], [7, 3, 1], [], [None], "7"])
def test_signed_unsubscribe_tokens_of_the_wrong_shape_are_invalid(app, payload):
    with app.app_context():
        token = signed(tokens.UNSUBSCRIBE_SALT, payload)
        assert tokens.check_unsubscribe_token(token).status == "invalid"


@pytest.mark.parametrize("payload", [[True], [7, 3], ["7"], [], [None], "7"])
def test_signed_manage_tokens_of_the_wrong_shape_are_invalid(app, payload):
    with app.app_context():
        token = signed(tokens.MANAGE_SALT, payload)
        assert tokens.check_manage_token(token).status == "invalid"


def test_unsubscribe_token_names_the_campaign_only_when_given(app):
    with app.app_context():
        assert tokens.check_unsubscribe_token(tokens.make_unsubscribe_token(7)).payload == (
            7,
            None,
        )
        assert tokens.check_unsubscribe_token(tokens.make_unsubscribe_token(7, 0)).payload == (
            7,
            0,
        )


# Links already sent, and hashes already stored, must stay valid across deployments: a
# changed salt or hash context would break every link in every mail ever sent, and let
# suppressed people be mailed again. These values were made once and must never change.
GOLDEN_KEY = "golden-key-that-never-changes-0123456789"
GOLDEN_MOMENT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
GOLDEN_TOKENS = {
    "confirm": "WzcsMTc2ODQ2NzYwMF0.FNZaS11cmnTQfETso-AInAhJxMc",
    "undo": "WzcsMTc2ODQ2NzYwMF0.bXq0JiPRuCNDNV3dl-3msoTHguI",
    "rights": "WzcsMTc2ODQ2NzYwMF0.d-Jcn2WVBDSJ_2mapgUCfCvKfAs",
    "unsubscribe": "Wzdd.ajWNVRumcUr7h0ZfyX-EegOan5U",
    "unsubscribe for campaign 3": "WzcsM10.rnpIK07XiwHwhTNGbB-LDFoABTY",
    "manage": "Wzdd.dNlOf0AasapAbOyhYfmKyOw47d0",
}
GOLDEN_HASH = "e4f0270dc809009204bdb32dfee9e72f1136b6d588e1cabbfcca758210877100"


def test_links_in_mails_already_sent_keep_working_after_any_deployment(make_app):
    app = make_app(SECRET_KEY=GOLDEN_KEY)
    with app.app_context():
        made = {
            "confirm": tokens.make_confirm_token(7, GOLDEN_MOMENT),
            "undo": tokens.make_undo_token(7, GOLDEN_MOMENT),
            "rights": tokens.make_rights_token(7, GOLDEN_MOMENT),
            "unsubscribe": tokens.make_unsubscribe_token(7),
            "unsubscribe for campaign 3": tokens.make_unsubscribe_token(7, 3),
            "manage": tokens.make_manage_token(7),
        }
        assert made == GOLDEN_TOKENS
        soon = GOLDEN_MOMENT + timedelta(minutes=1)
        assert tokens.check_confirm_token(GOLDEN_TOKENS["confirm"], soon).payload[0] == 7
        assert tokens.check_unsubscribe_token(GOLDEN_TOKENS["unsubscribe"]).ok


GOLDEN_DELIVERY_TAG = "aiaaaaaaa4aaaaaaao57umi6lhzheg7rym"  # kind 2, subscriber 7, campaign 3


def test_bounce_addresses_of_mails_already_sent_still_name_their_delivery(make_app):
    """A bounce can come back days later: the tag in its envelope must still check."""
    app = make_app(SECRET_KEY=GOLDEN_KEY)
    with app.app_context():
        assert tokens.delivery_tag_maker(2, 3)(7) == GOLDEN_DELIVERY_TAG
        assert tokens.check_delivery_tag(GOLDEN_DELIVERY_TAG) == tokens.DeliveryTag(2, 7, 3)
        # A mail of no campaign (a confirmation) names campaign 0, never another one.
        assert tokens.check_delivery_tag(tokens.delivery_tag_maker(1)(7)) == tokens.DeliveryTag(
            1, 7, 0
        )


def test_a_bounce_names_the_right_delivery_up_to_the_largest_ids_a_tag_holds(app):
    """Both ids take 5 bytes in a tag: every byte of each is read back, none of the other's."""
    largest = 2**40 - 1
    with app.app_context():
        for subscriber_id, campaign_id in [(largest, largest), (largest, 1), (1, largest)]:
            tag = tokens.delivery_tag_maker(2, campaign_id)(subscriber_id)
            assert tokens.check_delivery_tag(tag) == tokens.DeliveryTag(
                2, subscriber_id, campaign_id
            )


def test_suppression_hashes_already_stored_still_match_after_any_deployment(make_app):
    app = make_app(SECRET_KEY=GOLDEN_KEY)
    with app.app_context():
        assert tokens.address_hash("jane.doe@example.org") == GOLDEN_HASH
