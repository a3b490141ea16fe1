"""What is mutation-tested, with which tests, where and how many at once.

`make mutation` reads everything it needs to know about the project from here.
"""

from pathlib import Path

# The one place that names the targets: each module that keeps a legal or delivery
# promise, with the test files that state its promises. mutmut chooses its own tests
# (every non-browser test that calls the mutated function in-process); the extra pass
# runs the files listed here plus those mutmut saw reaching the module, and mutmut's
# mutants that no test reaches in-process are re-tested with the files listed here
# (code run only by a child process). When a module moves, edit its path here only.
TARGETS = {
    "weprode/tokens.py": [
        "tests/test_token_promises.py",
        "tests/test_newsletter_signup.py",
        "tests/test_newsletter_optout.py",
        "tests/test_rights.py",
        "tests/test_security.py",
        "tests/test_import.py",
        "tests/test_campaigns.py",
        "tests/test_usage_log.py",
        "tests/test_deliverability_verp.py",
        "tests/test_deliverability_ingest.py",
    ],
    "weprode/newsletter/optout.py": [
        "tests/test_optout_promises.py",
        "tests/test_topic_promises.py",
        "tests/test_newsletter_optout.py",
        "tests/test_newsletter_preferences.py",
        "tests/test_topics.py",
        "tests/test_admin_subscribers.py",
        "tests/test_campaigns.py",
        "tests/test_retention.py",
    ],
    # Who receives which topic, and since or until when: consent and churn per topic.
    "weprode/newsletter/subscriptions.py": [
        "tests/test_topic_promises.py",
        "tests/test_topics.py",
        "tests/test_optout_promises.py",
        "tests/test_newsletter_optout.py",
        "tests/test_newsletter_signup.py",
        "tests/test_newsletter_preferences.py",
        "tests/test_welcome_mail.py",
    ],
    # Which topics exist, which the signup forms offer, the main one everyone without a
    # choice joins, and staff's rules for them (one public topic always).
    "weprode/newsletter/topics.py": [
        "tests/test_topic_rules.py",
        "tests/test_topics.py",
        "tests/test_topics_admin.py",
        "tests/test_newsletter_signup.py",
        "tests/test_archive_topics.py",
        "tests/test_segments.py",
    ],
    # The preference centre: only an active subscription is edited, each topic ticked
    # anew gets its consent proof, leaving from here is undoable like any own unsubscribe.
    "weprode/newsletter/preferences.py": [
        "tests/test_preference_promises.py",
        "tests/test_newsletter_preferences.py",
        "tests/test_topics.py",
        "tests/test_preference_page.py",
        "tests/test_welcome_mail.py",
    ],
    "weprode/campaigns/ledger.py": [
        "tests/test_ledger_promises.py",
        "tests/test_sender_promises.py",
        "tests/test_campaigns.py",
        "tests/test_admin_campaigns.py",
        "tests/test_campaign_crash.py",
    ],
    # Who is frozen into a campaign's ledger, once each, and when the worker finishes it.
    "weprode/campaigns/freeze.py": [
        "tests/test_ledger_promises.py",
        "tests/test_freeze_hand_over.py",
        "tests/test_segments.py",
        "tests/test_topics.py",
        "tests/test_provider_pacing.py",
    ],
    "weprode/campaigns/senders.py": [
        "tests/test_sender_promises.py",
        "tests/test_ledger_promises.py",
        "tests/test_campaigns.py",
        "tests/test_campaign_crash.py",
        # One of several sending processes killed: requeue_rows_of, in the parent.
        "tests/test_campaign_stop.py",
        "tests/test_health.py",
    ],
    "weprode/privacy/retention.py": [
        "tests/test_retention_promises.py",
        "tests/test_retention.py",
        "tests/test_rights.py",
        "tests/test_contact.py",
        "tests/test_deliverability_privacy.py",
    ],
    "weprode/privacy/subscriber_purge.py": [
        "tests/test_retention_promises.py",
        "tests/test_retention.py",
        "tests/test_deliverability_privacy.py",
    ],
    "weprode/privacy/bulk_delete.py": [
        "tests/test_retention_promises.py",
        "tests/test_retention.py",
    ],
    "weprode/security.py": [
        "tests/test_security_promises.py",
        "tests/test_security.py",
    ],
    # Which key signs, and the suppression key that outlives rotation (issue 16).
    "weprode/keys.py": [
        "tests/test_keys.py",
        "tests/test_token_promises.py",
        "tests/test_production_config.py",
    ],
    # Bounces and complaints: who stops receiving mail, and only on a real delivery.
    "weprode/deliverability/effects.py": [
        "tests/test_deliverability_effects.py",
        "tests/test_deliverability_ingest.py",
        "tests/test_deliverability_privacy.py",
    ],
    "weprode/deliverability/ingest.py": [
        "tests/test_deliverability_ingest.py",
        "tests/test_deliverability_effects.py",
    ],
    # A restore never mails someone who left or brings back someone erased.
    "weprode/operations/reconcile.py": [
        "tests/test_backups.py",
    ],
    # A backup is whole and consistent, kept with its keys, and restorable.
    "weprode/operations/backups.py": [
        "tests/test_backup_promises.py",
        "tests/test_backups.py",
    ],
    # A message the relay accepted is recorded as sent, at most CAMPAIGN_MAX_UNRECORDED
    # of them unrecorded at any moment (what a kill -9 can send twice).
    "weprode/campaigns/recorder.py": [
        "tests/test_recorder_promises.py",
        "tests/test_campaign_stop.py",
        "tests/test_sender_promises.py",
        "tests/test_campaigns.py",
    ],
}

# Modules whose mutmut pass runs their TARGETS files only, in a mutmut copy of their own.
# Their code runs in nearly every request test, so mutmut would pick hundreds of tests
# for each mutant: security.py's hooks (40 minutes for the module instead of two),
# tokens.py's signing keys and address hashes (440 tests for one function), and keys.py's
# suppression key under them. reconcile.py and backups.py are reached only by the backup
# tests; their own run skips mutmut's whole-suite stats pass. recorder.py records every
# campaign send, and effects.py's record_refusals runs after each batch of one, so every
# test that sends a campaign would be picked; ingest.py is reached by the bounce tests only.
# The topic modules: subscriptions.join runs in 445 tests (every subscriber a fixture
# adds), optout.unsubscribe in 109 from 26 files, topics.main_topic_id in every signup,
# import and campaign; preferences.py is reached by the preference-page tests only.
OWN_TESTS_ONLY = {
    "weprode/security.py",
    "weprode/tokens.py",
    "weprode/keys.py",
    "weprode/operations/reconcile.py",
    "weprode/operations/backups.py",
    "weprode/campaigns/recorder.py",
    "weprode/deliverability/effects.py",
    "weprode/deliverability/ingest.py",
    "weprode/newsletter/optout.py",
    "weprode/newsletter/subscriptions.py",
    "weprode/newsletter/topics.py",
    "weprode/newsletter/preferences.py",
    "weprode/campaigns/freeze.py",
}

# Test files mutmut may not pick: they state no promise of a target module, but reach
# one in-process, so mutmut would run them for each of its mutants. The fuzz test
# (Hypothesis: no public page fails or sets a cookie) takes 2 minutes under mutmut's
# tracing and reaches every function of tokens.py.
# The deployment kit's tests check files against the real checkout (units pointing at
# .venv/bin, nginx), which mutmut's copy does not have; so does the Postfix pipe test,
# which runs the checkout's .venv/bin/flask as Postfix's pipe user. The French catalogue
# test extracts every translatable string from the source, and mutmut's copy holds each
# mutant's variant of them ("XXThere is no campaign %(id)s.XX"), untranslated.
NOT_FOR_MUTMUT = [
    "tests/test_fuzz_public.py",
    "tests/test_deploy_kit.py",
    "tests/test_deploy_production.py",
    "tests/test_deliverability_postfix.py",
    "tests/test_french.py",
]

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "mutants"  # git-ignored scratch space
BROWSER_TESTS = "tests/browser"
JOBS = 2  # the machines this runs on have two cores
