"""An import's state in words, for the staff import page and `flask import list`."""

from flask_babel import gettext as _


def import_status(code: str) -> str:
    """`rolled_back` -> what staff read; a code without a word is shown as it is."""
    words = {
        "staged": _("staged"),
        "committing": _("importing"),
        "rolling_back": _("rolling back"),
        "done": _("done"),
        "rolled_back": _("rolled back (nothing kept)"),
    }
    return words.get(code, code)
