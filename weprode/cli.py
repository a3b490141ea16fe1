"""`flask --app app migrate`: the one command that belongs to no capability.

Every capability registers its own commands from its `cli.py` (`subscribers` in
newsletter/, `staff` in staff/, `privacy` and `retention` in privacy/, `campaigns` in
campaigns/, `outbox` in mail/). Here too: what staff and operators read from a command
in their language (`StaffCommand`, `CommandError`, `confirm`).
"""

import inspect
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo, with_appcontext
from flask_babel import force_locale, format_datetime, format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import keys, migrations
from .db import get_db, parse_timestamp, utcnow


class StaffHelpFormatter(click.HelpFormatter):
    """Click's help layout with its headings from our catalogue (click's own gettext
    domain has no French)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        """`Usage: flask staff create [OPTIONS] EMAIL`, the word in the current locale."""
        super().write_usage(prog, args, _("Usage: ") if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        """`Options:` (`Options :` in French)."""
        titled = _("%(heading)s:", heading=heading)
        self.write(" " * self.current_indent + titled + "\n")

    def section(self, name: str) -> Any:
        """A titled section (Options, Commands), its title in the current locale."""
        titles = {"Options": _("Options"), "Commands": _("Commands")}
        return super().section(titles.get(name, name))


class StaffContext(click.Context):
    """A command's context, laying out `--help` with `StaffHelpFormatter`."""

    formatter_class = StaffHelpFormatter


class StaffCommand(click.Command):
    """A command that speaks STAFF_LANGUAGE: what its body prints, its errors and its
    `--help`. Give it lazy help texts (`lazy_gettext`, options through `staff_option`).

    Click builds commands at import, before any app exists, and reads `help` when it
    shows it: with lazy strings, read under the staff locale, `--help` follows
    STAFF_LANGUAGE, headings included. Click's own parsing errors ("No such option",
    "Missing argument") stay English.
    """

    context_class = StaffContext

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        """`--help`, its own line in the current locale."""
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _("Show this message and exit.")
        return option

    def invoke(self, ctx: click.Context) -> Any:
        """Run the body in the staff language."""
        with force_locale(staff_language()):
            return super().invoke(ctx)

    def get_help(self, ctx: click.Context) -> str:
        """`--help`, in the staff language."""
        with force_locale(staff_language()):
            return super().get_help(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        """The one line a group's `--help` shows for this command."""
        with force_locale(staff_language()):
            return super().get_short_help_str(limit)

    @property
    def help(self) -> str | None:
        """The help text in the current locale."""
        return None if self.lazy_help is None else str(self.lazy_help)

    @help.setter
    def help(self, value: Any) -> None:
        self.lazy_help = value


class DaemonCommand(StaffCommand):
    """A command that runs until stopped (a worker): its `--help` in the staff language,
    its body in the app's default locale, as a `StaffCommand`'s is not. What it renders
    (mails) chooses its own language, and its lines are for the journal."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the body as a plain click command would."""
        return click.Command.invoke(self, ctx)


class StaffGroup(StaffCommand, click.Group):
    """A command group whose commands are `StaffCommand`s, its help in the staff language."""

    command_class = StaffCommand
    group_class = type


class StaffOption(click.Option):
    """An option whose help may be a lazy string, read in the locale of `--help`.

    (click's `Parameter` turns a help text into plain text as it is built, at import.)
    """

    def __init__(self, *args: Any, help: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_help = help

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        """The option's line in `--help`, its text and its `[required]`, `[default: 5]`
        in the current locale (click words those in its own domain, English only)."""
        if self.hidden:
            return None
        text = "" if self.lazy_help is None else inspect.cleandoc(str(self.lazy_help))
        extra = self.get_help_extra(ctx)
        items = []
        if "envvars" in extra:
            items.append(_("environment variable: %(names)s", names=", ".join(extra["envvars"])))
        if "default" in extra:
            items.append(_("default: %(value)s", value=extra["default"]))
        if "range" in extra:
            items.append(extra["range"])
        if "required" in extra:
            items.append(_("required"))
        if items:
            text = f"{text}  [{'; '.join(items)}]" if text else f"[{'; '.join(items)}]"
        return self.get_help_spec(ctx), text


def staff_option(*declarations: str, **attributes: Any) -> Callable:
    """`click.option` for a `StaffCommand`: its help text may be lazy."""
    return click.option(*declarations, cls=StaffOption, **attributes)


def staff_language() -> str:
    """STAFF_LANGUAGE of the command's app, or English when there is none.

    `flask` pushes the app context before it looks a command up; a command run straight
    from `app.cli` (the tests' runner) has it pushed here, as `with_appcontext` would.
    """
    if not has_app_context():
        ctx = click.get_current_context(silent=True)
        info = ctx.find_object(ScriptInfo) if ctx else None
        if info is None:
            return "en"
        ctx.with_resource(info.load_app().app_context())
    return current_app.config["STAFF_LANGUAGE"]


class CommandError(click.ClickException):
    """A failure (exit 1, or `exit_code`) whose "Error:" is in the staff language.

    Raise it in a `StaffCommand`'s body: the line is worded there, under the staff
    locale, since click prints it after the command's app context is gone. Usage
    mistakes found in the body use exit code 2, as click's own do.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(str(message))
        self.exit_code = exit_code
        self.line = _("Error: %(message)s", message=self.message)

    def show(self, file: Any = None) -> None:
        """Print the line on standard error."""
        click.echo(self.line, file=file, err=file is None)


def confirm(question: str) -> bool:
    """Ask a yes/no question in the staff language (click's own accepts y/n only).

    `[y/N]`: anything but a yes word is no, as with click.confirm.
    """
    asked = _("%(question)s [y/N]:", question=question)
    answer = click.prompt(asked, default="", show_default=False, prompt_suffix=" ")
    return answer.strip().lower() in _("y,yes").split(",") + ["y", "yes"]


def prompt_new_password() -> str:
    """A new password typed twice at a hidden prompt, asked again until both match."""
    while True:
        first = click.prompt(_("Password:"), hide_input=True, prompt_suffix=" ")
        again = click.prompt(_("Repeat for confirmation:"), hide_input=True, prompt_suffix=" ")
        if first == again:
            return first
        click.echo(_("The two entries differ; type the password again."), err=True)


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """`1 row`, `2 rows`: a count with its noun agreeing, in English, for text stored
    or logged in English (rights requests' notes). What staff read goes through the
    catalogue (`ngettext`) instead."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def figure(number: int) -> str:
    """A count with the staff language's thousands separator (1\u202f202 in French)."""
    return format_number(number)


def staff_moment(stored: str | None, zone: str) -> str:
    """A stored UTC timestamp as staff read it, `5 janv. 2026, 16:03:00`: the current
    locale's medium format in `zone` (a command has no signed-in reader whose zone it
    could take, so its caller says which); empty for none."""
    moment = parse_timestamp(stored)
    if moment is None:
        return ""
    # Converted here: flask-babel's own zone is the request's (UTC in a command).
    return format_datetime(moment.astimezone(ZoneInfo(zone)), "medium", rebase=False)


@click.command(
    "migrate", cls=StaffCommand, help=_l("Apply pending database migrations (safe to run again).")
)
@with_appcontext
def migrate_command():
    db = get_db()
    applied = migrations.apply_pending(db)
    # Record (or check) the key now, so a deployment with the wrong key stops here.
    keys.settle_app(current_app, db, utcnow())
    if applied:
        for name in applied:
            click.echo(_("applied %(name)s", name=name))
    else:
        click.echo(_("database is up to date"))


def init_app(app: Flask) -> None:
    """Register the command on the app."""
    app.cli.add_command(migrate_command)
