"""Helpers for the contact tests: valid submissions of both forms, reading the mails."""

import socket

VALID_CONTACT = {
    "contact-last_name": "Doe",
    "contact-first_name": "Jane",
    "contact-job_title": "IT lead",
    "contact-company": "Lycée du Lac",
    "contact-email": "Jane.Doe@Example.org",
    "contact-phone": "+33 4 79 00 00 00",
    "contact-subject": "Hosting of our digital workspace",
    "contact-message": "Where is our data stored?\nWe would like to know more.",
    "contact-consent_version": "2026-11-v1",
}

VALID_MEETING = {
    "meeting-last_name": "Martin",
    "meeting-first_name": "Paul",
    "meeting-company": "Région Exemple",
    "meeting-email": "paul.martin@example.org",
    "meeting-topic": "Exit plan for our Education Cloud",
    "meeting-format": "video",
    "meeting-slot_1": "Tuesday 3 March, morning",
    "meeting-slot_2": "Thursday 5 March, 14:00",
    "meeting-slot_3": "",
    "meeting-consent_version": "2026-11-v1",
}


def without_none(data):
    return {key: value for key, value in data.items() if value is not None}


def send_contact(client, headers=None, **changes):
    """POST the message form with valid data, changed as asked (keys without prefix)."""
    data = {**VALID_CONTACT, **{f"contact-{key}": value for key, value in changes.items()}}
    return client.post("/contact", data=without_none(data), headers=headers or {})


def send_meeting(client, headers=None, **changes):
    """POST the meeting form with valid data, changed as asked (keys without prefix)."""
    data = {**VALID_MEETING, **{f"meeting-{key}": value for key, value in changes.items()}}
    return client.post("/contact/meeting", data=without_none(data), headers=headers or {})


def by_recipient(messages):
    """Received messages keyed by their To address."""
    return {message["To"]: message for message in messages}


def closed_port():
    """A local TCP port nobody listens on: the relay is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
