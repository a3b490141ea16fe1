# The production configuration of the Weprode website: copy to instance/config.py,
#
#     sudo install -o weprode -g weprode -m 0640 deploy/config.example.py instance/config.py
#
# then edit the values marked CHANGE. Every process (gunicorn, the worker, the timers,
# `flask --app app ...` commands run as weprode) reads this one file; FLASK_* environment
# variables would override it, and the systemd units set none. It holds secrets: keep it
# owned by weprode, mode 0640 or 0600, and out of the repository. The README's
# "Configuration" table lists every key and its default.

# Scheme, host (and port, if not 443) of the site as visitors reach it: links in e-mails,
# the sitemap and the origin check of forms are built from it. Must be https.
PUBLIC_URL = "https://www.weprode.com"

# Signs every link in e-mails (confirmation, opt-out, undo, rights requests) and wraps
# the suppression list's own key in the database. CHANGE: generate one with
#     python3 -c 'import secrets; print(secrets.token_urlsafe(48))'
# The site refuses to start with this placeholder or with a key under 32 characters.
# Losing the key breaks every link already sent: back up this file.
SECRET_KEY = "CHANGE-ME"

# Old keys, still accepted when checking links, never used to sign. To rotate: move the
# current key here, set a new SECRET_KEY, restart the web and worker services (a process
# left on the old key alone is then refused). Drop an old key only after the longest-lived
# link signed with it is over: opt-out links never expire, so keep it while mails signed
# with it may be clicked, unless it leaked (README, "Key rotation"); suppressions do not
# depend on it. A Python list of strings, each as strong as SECRET_KEY:
#     SECRET_KEY_FALLBACKS = ["the-previous-key-of-at-least-32-characters"]
SECRET_KEY_FALLBACKS = []

# nginx on this machine is the one proxy whose X-Forwarded-For/-Proto/-Host are trusted.
TRUSTED_PROXIES = 1

# The SMTP relay that carries every mail. CHANGE: host, port and credentials of yours.
# Port 587 with STARTTLS (MAIL_USE_TLS) or 465 with implicit TLS (MAIL_USE_SSL).
MAIL_SERVER = "smtp.example.net"
MAIL_PORT = 587
MAIL_USE_TLS = True
MAIL_USE_SSL = False
MAIL_USERNAME = "newsletter@weprode.com"
MAIL_PASSWORD = "CHANGE-ME"
MAIL_DEFAULT_SENDER = "Weprode <newsletter@weprode.com>"
# Only if the relay advertises SMTPUTF8 (addresses such as zoë@example.com).
MAIL_SMTPUTF8 = False

# Optional: campaigns through a pool of relays instead of MAIL_SERVER alone (README,
# "Sending through several relays"). Sessions spread by weight, at most max_connections
# each; a failing relay is set aside and its mail goes through the others.
#     MAIL_RELAYS = [
#         {"name": "postfix-1", "host": "10.0.0.11", "port": 587, "tls": "starttls",
#          "tls_ca_file": "/etc/weprode/relay-ca.pem", "weight": 1, "max_connections": 4},
#         {"name": "postfix-2", "host": "10.0.0.12", "port": 587, "tls": "starttls",
#          "tls_ca_file": "/etc/weprode/relay-ca.pem", "weight": 1, "max_connections": 4},
#         {"name": "eu-service", "host": "smtp.eu-sender.example", "port": 465, "tls": "ssl",
#          "username": "weprode", "password": "CHANGE-ME", "weight": 2, "max_connections": 8},
#     ]
#     CAMPAIGN_SMTP_CONNECTIONS = 8   # per sending process
#     CAMPAIGN_SENDER_PROCESSES = 2   # one per core the host can give to sending

# Where contact and meeting requests are notified, and who acknowledges them.
CONTACT_NOTIFY_ADDRESS = "contact@weprode.com"
CONTACT_SENDER = "Weprode <contact@weprode.com>"

# Every staff account must set up the TOTP second factor.
STAFF_REQUIRE_TOTP = True

# The staff area's language before login (/admin/login, the second factor), whatever a
# link's ?lang= says: "en" or "fr" (one of SITE_LANGUAGES). Signed in, each staff member
# reads the staff area in their account's language and time zone ("My account").
STAFF_LANGUAGE = "fr"

# Rate-limit counters: "memory://" counts per gunicorn worker, so with 2 workers a
# visitor gets up to twice the limit. For one shared count, run Redis or memcached on
# this machine, install its client into the virtualenv (.venv/bin/pip install redis)
# and set for example:
#     RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"
RATELIMIT_STORAGE_URI = "memory://"

# Optional: DKIM-sign campaigns (the key file readable by weprode only).
#     DKIM_PRIVATE_KEY_FILE = "/srv/weprode/instance/dkim.pem"
#     DKIM_SELECTOR = "weprode2026"
#     DKIM_DOMAIN = "weprode.com"

# Facts the legal notice must give (LCEN art. 6 III) that are not known yet; the page
# shows each once set, and `flask --app app doctor` reports them while they are empty.
# CHANGE: the company's phone number and intra-community VAT number.
COMPANY_PHONE = ""
COMPANY_VAT_NUMBER = ""

# /healthz (see README, Monitoring): leave as is while the worker service runs.
# Without weprode-worker (outbox by timer, campaigns by hand): HEALTH_REQUIRE_WORKER = False
HEALTH_REQUIRE_WORKER = True
