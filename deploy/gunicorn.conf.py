"""gunicorn settings for the Weprode site behind nginx (`gunicorn -c deploy/gunicorn.conf.py`).

Run from the project folder (systemd: WorkingDirectory=/srv/weprode). The site's own
settings are not here: every process reads `instance/config.py` through the factory.
Command-line options given after `-c` win over this file (`--workers 4`,
`--bind 127.0.0.1:8001`).
"""

import os

wsgi_app = "app:app"

# nginx on the same machine is the only client; never listen on a public address.
bind = ["127.0.0.1:8000"]

# Sync workers: each request is short (pages come from an in-memory cache, forms do one
# transaction). WEB_CONCURRENCY is gunicorn's usual way to change the count without
# editing this file; more workers need a shared RATELIMIT_STORAGE_URI (see the README).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A CSV import of 32 MiB is the slowest request; nginx waits 60 s too (proxy_read_timeout).
timeout = 60
graceful_timeout = 30

# Only nginx, on this machine, may say which scheme the visitor used. Only
# X-Forwarded-Proto is read: nginx sets it on every request, and clients cannot smuggle
# in another scheme header (X-Forwarded-Ssl, X-Forwarded-Protocol) that nginx passes on.
# The app's ProxyFix (TRUSTED_PROXIES = 1) reads X-Forwarded-For/-Proto/-Host itself.
forwarded_allow_ips = "127.0.0.1"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# gunicorn 25.1+ opens a control socket (for `gunicornc`) in $XDG_RUNTIME_DIR or
# ~/.gunicorn/ by default: a writable home the service user should not need, and a
# management interface nobody uses here. Restart through systemd instead.
control_socket_disable = True

# nginx writes the access log (with tokens redacted) and the app its usage log; errors
# go to stderr, i.e. the journal.
accesslog = None
errorlog = "-"
loglevel = "info"
# The process title shown by ps and top.
proc_name = "weprode-web"
