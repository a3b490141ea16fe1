"""Scores and the Markdown report, for the results of both passes."""

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from .sql import is_sql

EQUIVALENT_FILE = Path(__file__).with_name("equivalent.txt")
# Survivors left on purpose, with why: they stay in the score (unlike equivalents).
SURVIVORS_FILE = Path(__file__).with_name("survivors.txt")
KILLED = ("killed", "timeout")
NOT_KILLED = ("survived", "no tests", "other")


@dataclass
class Result:
    """One mutant's verdict, whichever pass produced it."""

    id: str
    path: str
    line: int
    scope: str
    tool: str  # "mutmut" or "extra"
    kind: str
    before: str
    after: str
    description: str
    status: str  # killed, timeout, survived, no tests, other, equivalent
    rule: str = ""  # the equivalent.txt rule that marked it equivalent, if any
    name: str = ""  # mutmut's name for the mutant (for `mutmut show NAME` in mutants/mutmut)


def digest(*parts):
    """A short stable hash of some strings."""
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:8]


def assign_ids(results):
    """Give each result a stable id: file, function and a hash of the changed line.

    Line numbers are left out on purpose, so an entry in equivalent.txt survives edits
    elsewhere in the file; identical edits in one function get -2, -3 ...
    """
    seen = Counter()
    for result in results:
        base = f"{result.path}::{result.scope}::" + digest(
            result.tool, result.kind, result.before, result.after, result.description
        )
        seen[base] += 1
        result.id = base if seen[base] == 1 else f"{base}-{seen[base]}"


def load_equivalents(path=EQUIVALENT_FILE):
    """{id: reason} from equivalent.txt or survivors.txt (`<id>  <reason>` per line)."""
    equivalents = {}
    if not path.exists():
        return equivalents
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        mutant_id, _, reason = line.partition(" ")
        equivalents[mutant_id] = reason.strip()
    return equivalents


def sql_case_only(result):
    """True when a mutant only changes the case of SQL text outside quoted values.

    mutmut upper- and lower-cases every string; SQLite's keywords, table and column
    names ignore case, so such a mutant can only be killed when it touches a quoted
    value ('table' -> 'TABLE'), which this check leaves alone.
    """
    before, after = result.before, result.after
    return (
        before != after
        and before.lower() == after.lower()
        and re.findall(r"'[^']*'", before) == re.findall(r"'[^']*'", after)
        and is_sql(before.upper())
    )


RULES = {"sql-case": sql_case_only}


def apply_equivalents(results, equivalents):
    """Mark listed mutants equivalent; returns the entries that matched no live mutant.

    An entry `rule:NAME` applies one of RULES to every mutant instead of naming one.
    """
    for name in [key.removeprefix("rule:") for key in equivalents if key.startswith("rule:")]:
        for result in results:
            if result.status not in KILLED and RULES[name](result):
                result.status = "equivalent"
                result.rule = f"rule:{name}"
    by_id = {result.id: result for result in results}
    stale = {}
    for mutant_id, reason in equivalents.items():
        if mutant_id.startswith("rule:"):
            continue
        result = by_id.get(mutant_id)
        if result is None:
            stale[mutant_id] = (reason, "no such mutant in this run")
        elif result.status in KILLED:
            stale[mutant_id] = (reason, f"now {result.status}: not equivalent")
        else:
            result.status = "equivalent"
    return stale


def score_row(results):
    """Counts and the score of a group of results."""
    counts = Counter(result.status for result in results)
    scored = len(results) - counts["equivalent"]
    killed = counts["killed"] + counts["timeout"]
    score = f"{100 * killed / scored:.1f} %" if scored else "n/a"
    return counts, len(results), score


def table(results, modules):
    """The Markdown score table: per module, per pass and combined."""
    lines = [
        "| module | pass | killed | timeout | survived | no tests | other | equivalent | total "
        "| score |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_module = defaultdict(list)
    for result in results:
        by_module[result.path].append(result)
    groups = [(module, by_module[module]) for module in modules] + [("**all**", results)]
    for module, group in groups:
        for tool in ("mutmut", "extra", "combined"):
            chosen = [r for r in group if tool == "combined" or r.tool == tool]
            counts, total, score = score_row(chosen)
            label = f"**{score}**" if tool == "combined" else score
            cells = [counts[s] for s in ("killed", "timeout", "survived", "no tests", "other")]
            lines.append(
                f"| {module if tool == 'mutmut' else ''} | {tool} | "
                + " | ".join(str(c) for c in cells)
                + f" | {counts['equivalent']} | {total} | {label} |"
            )
    return "\n".join(lines)


def short(text, width=90):
    """One line of code for a table cell, cut to `width`, pipes escaped."""
    text = " ".join(text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")


def survivor_lines(results, modules):
    """Every mutant not killed and not accepted as equivalent, by module and line."""
    lines = []
    reasons = load_equivalents(SURVIVORS_FILE)
    for module in modules:
        alive = [r for r in results if r.path == module and r.status in NOT_KILLED]
        if not alive:
            continue
        lines += ["", f"### {module} ({len(alive)})", ""]
        for r in sorted(alive, key=lambda r: (r.line, r.id)):
            what = r.description or f"`{short(r.before)}` -> `{short(r.after)}`"
            if r.description:
                what = f"{short(r.description)}: `{short(r.before)}` -> `{short(r.after)}`"
            status = "" if r.status == "survived" else f", {r.status}"
            line = f"- `{r.path}:{r.line}` {r.scope} [{r.tool}{status}] {what} — `{r.id}`"
            reason = reasons.get(r.id, "no reason recorded in survivors.txt")
            lines.append(f"{line}. Left: {reason}")
    return lines


def markdown(results, modules, stale, header, scores_only=False):
    """The whole report."""
    parts = [header, "", "## Scores", "", table(results, modules), ""]
    parts += ["## Survivors", ""]
    survivors = survivor_lines(results, modules)
    parts += survivors or ["None."]
    parts += ["", "## Equivalent mutants", ""]
    equivalent = [r for r in results if r.status == "equivalent"]
    reasons = load_equivalents()
    if not equivalent:
        parts.append("None listed in `devtools/mutation/equivalent.txt`.")
    by_rule = Counter(r.rule for r in equivalent if r.rule)
    for rule, count in sorted(by_rule.items()):
        parts.append(f"- `{rule}`: {count} mutants. {reasons.get(rule, '')}")
    for r in sorted(equivalent, key=lambda r: (r.path, r.line)):
        if r.rule:
            continue
        parts.append(
            f"- `{r.path}:{r.line}` {r.scope} [{r.tool}] `{short(r.before)}` -> "
            f"`{short(r.after)}`: {reasons.get(r.id, '')} — `{r.id}`"
        )
    if stale:
        parts += ["", "Entries of `equivalent.txt` that matched nothing alive in this run:", ""]
        for mutant_id, (reason, why) in sorted(stale.items()):
            parts.append(f"- `{mutant_id}` ({why}): {reason}")
    return "\n".join(parts) + "\n"


def print_scores(results, modules):
    """The per-module combined scores, for the terminal."""
    for module in [*modules, None]:
        group = [r for r in results if module is None or r.path == module]
        counts, total, score = score_row(group)
        alive = sum(counts[s] for s in NOT_KILLED)
        name = module or "all"
        equivalent = counts["equivalent"]
        print(f"{name:40} {score:>8}  ({alive} alive, {equivalent} equivalent, {total} total)")


def saved_file(directory, module, tool):
    """Where one module's results of one pass are kept between runs."""
    return Path(directory) / f"{module.replace('/', '.')}.{tool}.json"


def save(results, directory, modules, tools, stamp):
    """Keep each module's results of each pass run, with `stamp` (date, commit).

    A later run of one module replaces only that module's file, so a report can be
    assembled from the latest run of every module and pass (`run.py --assemble`).
    """
    Path(directory).mkdir(parents=True, exist_ok=True)
    for module in modules:
        for tool in tools:
            chosen = [asdict(r) for r in results if r.path == module and r.tool == tool]
            record = {"stamp": stamp, "results": chosen}
            saved_file(directory, module, tool).write_text(json.dumps(record, indent=1))


def load_saved(directory, modules, tools):
    """(results, {(module, tool): stamp}) from the files `save` wrote; missing ones skipped."""
    results, stamps = [], {}
    for module in modules:
        for tool in tools:
            path = saved_file(directory, module, tool)
            if not path.exists():
                continue
            record = json.loads(path.read_text())
            stamps[module, tool] = record["stamp"]
            results += [Result(**fields) for fields in record["results"]]
    return results, stamps
