"""The folders the site writes to, checked at start-up, and the files kept private in them.

The instance folder (database, generated key), the database's folder and LOG_FOLDER
must be writable by the user the site runs as. When one is not, the site would seem
up (pages come from memory) while every form answers 500 and no log line is written;
it refuses to start instead, saying which folder, which user, and how to fix it.

Files there hold personal data, so none is readable by other local users: new ones
are created with explicit modes (`db.create_private_file`, the logs' 0640), and
files left readable by an older version lose the permission bits for others.
"""

import os
import pwd
import stat
from collections.abc import Iterable
from pathlib import Path

from flask import Flask

from .config import ConfigError
from .usage_log import log_folder

FOLDER_MODE = 0o750
# The database's companions, which SQLite (or `db.write_lock`) creates beside it.
DATABASE_COMPANIONS = ("-wal", "-shm", ".write-lock", ".write-queue")


class FolderNotWritable(ConfigError):
    """A folder the site writes to is not writable by the user it runs as."""


def user_name(uid: int) -> str:
    """The login name of `uid`, or the number when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def can_write(path: Path) -> bool:
    """True when this process may write to `path` (a folder: create files in it)."""
    mode = os.W_OK | os.X_OK if path.is_dir() else os.W_OK
    effective = os.access in os.supports_effective_ids
    return os.access(path, mode, effective_ids=effective)


def not_writable_message(path: Path, setting: str) -> str:
    """Why the site does not start, and the command that fixes it."""
    user = user_name(os.geteuid())
    try:
        owner = user_name(path.stat().st_uid)
    except OSError:
        owner = "?"
    # Running the site as root is never the fix to suggest.
    other_owner = f", run the site as {owner}" if owner not in ("root", "?") else ""
    return (
        f"{path} ({setting}) is not writable by the user this site runs as, {user} "
        f"(it belongs to {owner}): forms would fail and nothing would be logged. "
        f"Fix: `chown -R {user} {path}`{other_owner} "
        f"or point {setting} to a folder {user} can write."
    )


def ensure_writable_folder(folder: str | os.PathLike[str], setting: str) -> Path:
    """Create `folder` (mode 0750) if missing; raise `FolderNotWritable` unless writable."""
    path = Path(folder)
    try:
        path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as error:
        raise FolderNotWritable(
            f"Cannot create {path} ({setting}) as user {user_name(os.geteuid())}: "
            f"{error.strerror}. Fix: create it and `chown` it to that user, or point "
            f"{setting} elsewhere."
        ) from error
    if not can_write(path):
        raise FolderNotWritable(not_writable_message(path, setting))
    return path


def database_files(database: str) -> list[Path]:
    """The database file and its companions that exist now."""
    if not database or database == ":memory:":
        return []
    candidates = [database, *(database + suffix for suffix in DATABASE_COMPANIONS)]
    return [Path(name) for name in candidates if Path(name).exists()]


def hide_from_others(paths: Iterable[Path]) -> None:
    """Drop the permission bits for others on the files this user owns.

    Databases and logs written by earlier versions were created 0644. Symbolic links
    are left alone: what they point to may live outside the site's folders.
    """
    uid = os.geteuid()
    for path in paths:
        status = path.lstat()
        if stat.S_ISREG(status.st_mode) and status.st_uid == uid and status.st_mode & 0o007:
            path.chmod(stat.S_IMODE(status.st_mode) & ~0o007)


def check_folders(app: Flask) -> None:
    """Make sure the database's folder and the log folder are writable, files private.

    Call once the configuration is final. An existing database file this user cannot
    write (created by root, say) stops the start-up like its folder would.
    """
    database = str(app.config["DATABASE"])
    if database != ":memory:":
        ensure_writable_folder(Path(database).parent, "DATABASE")
    logs = ensure_writable_folder(log_folder(app), "LOG_FOLDER")
    files = database_files(database)
    for path in files:
        if not can_write(path):
            raise FolderNotWritable(not_writable_message(path, "DATABASE"))
    hide_from_others([*files, *Path(app.instance_path).iterdir(), *logs.iterdir()])
