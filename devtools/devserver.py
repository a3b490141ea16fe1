"""`make run`: the mail sink, the campaign worker and the development server together.

Ctrl-C stops all three.
"""

import atexit
import os
import subprocess
import sys
from pathlib import Path

from devtools.mailsink import start_sink

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SINK_PORT = int(os.environ.get("WEPRODE_SINK_PORT", "8025"))
SITE_PORT = int(os.environ.get("WEPRODE_PORT", "5000"))


def start_worker():
    """`flask campaigns worker` beside the site, stopped when we exit."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "app",
            "campaigns",
            "worker",
            "--poll-seconds",
            "2",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "FLASK_DEBUG": "1"},
    )
    atexit.register(worker.terminate)


def main():
    """Start the sink (once, in the reloader's parent) and serve the site."""
    mail_dir = PROJECT_ROOT / "instance" / "mail"
    # Werkzeug's reloader re-runs this module in a child process; only the parent
    # owns the sink, the child inherits the environment that points at it.
    if os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        try:
            start_sink("127.0.0.1", SINK_PORT, mail_dir)
        except OSError as error:
            sys.exit(f"Cannot start the mail sink on port {SINK_PORT}: {error}")
        os.environ["FLASK_MAIL_SERVER"] = "127.0.0.1"
        os.environ["FLASK_MAIL_PORT"] = str(SINK_PORT)
        os.environ.setdefault("FLASK_PUBLIC_URL", f"http://127.0.0.1:{SITE_PORT}")
        start_worker()
        print(f" * Site:  http://127.0.0.1:{SITE_PORT}/")
        print(f" * Mail:  SMTP sink on 127.0.0.1:{SINK_PORT}, messages saved in {mail_dir}/")
        print(" * Campaign worker running: 'send now' in the staff area delivers to the sink")

    from weprode import create_app

    # Debug mode before the app is built: outside it the development defaults
    # (http PUBLIC_URL, the local sink as relay) are refused.
    os.environ["FLASK_DEBUG"] = "1"
    app = create_app()
    app.run(host="127.0.0.1", port=SITE_PORT, debug=True, use_reloader=True)


if __name__ == "__main__":
    main()
