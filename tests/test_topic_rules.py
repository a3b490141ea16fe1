"""Staff's rules for topics, at their limits: the short name's form and length, one-line
names, description length, a short name used once, one public topic always; topics keep
the order staff created them in, and readers are counted per topic among active people.

Written against mutation-testing survivors of topics.py (issue 17).
"""

import pytest
from campaign_helpers import add_subscribers
from flask_babel import force_locale
from test_topics import STAFF, new_topic

from weprode.db import utcnow
from weprode.newsletter import optout, subscriptions, topics

VALUES = {
    "slug": "events",
    "name_en": "Events",
    "name_fr": "Événements",
    "description_en": "",
    "description_fr": "",
    "public": True,
}


def errors(app, db, values, topic_id=None):
    with app.test_request_context():
        return topics.validation_errors(db, {**VALUES, **values}, topic_id)


@pytest.mark.parametrize(
    ("field", "longest"),
    [
        ("slug", "a" * topics.SLUG_MAX),
        ("name_en", "n" * topics.NAME_MAX),
        ("name_fr", "n" * topics.NAME_MAX),
        ("description_en", "d" * topics.DESCRIPTION_MAX),
        ("description_fr", "d" * topics.DESCRIPTION_MAX),
    ],
)
def test_each_value_is_accepted_at_its_limit_and_refused_one_character_over(
    app, db, field, longest
):
    assert errors(app, db, {field: longest}) == {}
    assert list(errors(app, db, {field: longest + longest[0]})) == [field]


@pytest.mark.parametrize("slug", ["", "Events", "events-", "-events", "ev--ents", "ev ents", "évé"])
def test_a_short_name_is_lower_case_letters_digits_and_single_hyphens(app, db, slug):
    assert list(errors(app, db, {"slug": slug})) == ["slug"]


def test_well_formed_short_names_pass(app, db):
    for slug in ("events", "events-2027", "a1-b2-c3"):
        assert errors(app, db, {"slug": slug}) == {}


@pytest.mark.parametrize("field", ["name_en", "name_fr"])
def test_a_name_is_required_and_one_line(app, db, field):
    assert list(errors(app, db, {field: "  "})) == [field]
    assert list(errors(app, db, {field: "Two\nlines"})) == [field]


def test_a_short_name_is_used_once_but_a_topic_keeps_its_own(app, db):
    events = new_topic(app, db, "events")
    assert list(errors(app, db, {"slug": "events"})) == ["slug"]
    assert list(errors(app, db, {"slug": "events"}, topic_id=1)) == ["slug"]
    assert errors(app, db, {"slug": "events"}, topic_id=events) == {}


def test_a_topic_may_become_internal_while_another_is_public(app, db):
    events = new_topic(app, db, "events")
    assert errors(app, db, {"slug": "events", "public": False}, topic_id=events) == {}
    assert errors(app, db, {"slug": "newsletter", "public": False}, topic_id=1) == {}
    partners = new_topic(app, db, "partners", public=False)
    with app.test_request_context():
        topics.update(db, 1, {**topics.get(db, 1), "public": False}, STAFF, utcnow())
    # Now events is the only public topic: neither it nor an internal one changes that.
    assert list(errors(app, db, {"slug": "events", "public": False}, topic_id=events)) == ["public"]
    assert errors(app, db, {"slug": "partners", "public": False}, topic_id=partners) == {}


def test_new_topics_go_to_the_end_of_the_list_with_trimmed_values(app, db):
    with app.test_request_context():
        first = topics.create(db, {**VALUES, "name_en": "  Events  "}, STAFF, utcnow())
        second = topics.create(db, {**VALUES, "slug": "watch", "public": ""}, STAFF, utcnow())
    listed = topics.all_topics(db)
    assert [t["id"] for t in listed] == [1, first, second]
    assert [t["position"] for t in listed] == [0, 1, 2]
    assert (listed[1]["name_en"], listed[1]["public"], listed[2]["public"]) == ("Events", 1, 0)
    assert [t["id"] for t in topics.public_topics(db)] == [1, first]
    assert topics.main_topic_id(db) == 1


def test_refused_values_save_nothing_and_say_why(app, db):
    with app.test_request_context():
        with pytest.raises(topics.TopicInvalid) as refused:
            topics.create(db, {**VALUES, "slug": "Bad"}, STAFF, utcnow())
        with pytest.raises(topics.TopicInvalid):
            topics.update(db, 1, {**VALUES, "slug": "Bad"}, STAFF, utcnow())
    assert list(refused.value.errors) == ["slug"] and str(refused.value).startswith("slug: ")
    two = topics.TopicInvalid({"slug": "Bad.", "name_en": "Empty."})
    assert str(two) == "slug: Bad.; name_en: Empty."
    assert [t["slug"] for t in topics.all_topics(db)] == ["newsletter"]


def test_names_and_descriptions_in_the_language_asked_english_otherwise(app, db):
    events = topics.get(db, new_topic(app, db, "events"))
    assert [topics.name(events, lang) for lang in ("en", "fr", "de")] == [
        "Events EN",
        "Events FR",
        "Events EN",
    ]
    assert [topics.description(events, lang) for lang in ("fr", "de")] == [
        "À propos de events.",
        "About events.",
    ]


def test_readers_per_topic_count_only_active_people_who_receive_it(app, db):
    events = new_topic(app, db, "events")
    ann, bob, eve = add_subscribers(
        app, db, [(f"{n}@example.org", n, "en") for n in ("ann", "bob", "eve")]
    )
    with app.app_context():
        subscriptions.join(db, ann, [events], utcnow())
        subscriptions.join(db, bob, [events], utcnow())
        optout.unsubscribe(db, bob, "page", utcnow(), topic_id=events)
        optout.unsubscribe(db, eve, "page", utcnow())
    assert topics.active_counts(db) == {1: 2, events: 1}


def test_each_refusal_reads_in_french_for_french_staff(app, db):
    """Staff work in French by default: each message by a field is the French one."""
    new_topic(app, db, "events")
    with app.test_request_context(), force_locale("fr"):
        first = topics.validation_errors(
            db,
            {
                **VALUES,
                "slug": "Bad",
                "name_en": "",
                "name_fr": "a\nb",
                "description_fr": "d" * 301,
            },
            None,
        )
        second = topics.validation_errors(
            db, {**VALUES, "name_fr": "", "public": False, "description_en": "d" * 301}, 1
        )
        internal = topics.validation_errors(db, {**VALUES, "public": False}, 1)
        db.execute("UPDATE topics SET public = 0 WHERE id != 1")
        last = topics.validation_errors(db, {**VALUES, "slug": "newsletter", "public": False}, 1)
    assert last == {
        "public": "Les formulaires d’abonnement ont besoin d’un thème public\u00a0: rendez "
        "d’abord un autre thème public."
    }
    assert first == {
        "slug": "Utilisez des lettres minuscules, des chiffres et des tirets simples "
        "(40 caractères au maximum).",
        "name_en": "Le champ «\u00a0Nom en anglais\u00a0» est obligatoire.",
        "name_fr": "Une seule ligne de 80 caractères au maximum.",
        "description_fr": "300 caractères au maximum.",
    }
    assert second["slug"] == "Un autre thème utilise déjà ce nom court."
    assert second["name_fr"] == "Le champ «\u00a0Nom en français\u00a0» est obligatoire."
    assert second["description_en"] == "300 caractères au maximum."
    assert internal["slug"] == second["slug"] and "public" not in internal  # events is public


def test_each_topic_created_or_changed_is_in_the_audit_log_with_its_short_name(app, db):
    events = new_topic(app, db, "events")
    with app.test_request_context():
        topics.update(db, events, {**VALUES, "slug": "meetups"}, STAFF, utcnow())
    entries = list(
        db.query("SELECT actor, action, target, detail FROM audit_log WHERE target LIKE 'topic:%'")
    )
    assert entries == [
        {
            "actor": STAFF,
            "action": "topic_created",
            "target": f"topic:{events}",
            "detail": '{"slug": "events"}',
        },
        {
            "actor": STAFF,
            "action": "topic_changed",
            "target": f"topic:{events}",
            "detail": '{"slug": "meetups"}',
        },
    ]


def test_the_only_public_topic_stays_editable_while_it_stays_public(app, db):
    main = topics.get(db, 1)
    with app.test_request_context():
        topics.update(db, 1, {**main, "name_en": "News", "public": True}, STAFF, utcnow())
    assert (topics.get(db, 1)["name_en"], topics.get(db, 1)["public"]) == ("News", 1)
    assert errors(app, db, {"slug": "newsletter", "public": "y"}, topic_id=1) == {}
