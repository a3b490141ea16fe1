"""Mutation testing of the modules that keep the legal promises: `make mutation`.

Two passes over each target module, then the reports (devtools/mutation/REPORT.md, both
passes, and REPORT-extra.md, the extra pass alone):

1. mutmut (function bodies), run in a scratch copy of the project under
   `mutants/mutmut/`, with its configuration generated from TARGETS (targets.py);
2. devtools/mutation/extra.py (SQL operators, constants, decorators), each mutant in
   a scratch copy under `mutants/extra-N/`, testing the module's test files.

Neither pass writes to the working tree, so an interrupted run leaves nothing to
restore; the driver still compares `git status` before and after.

    .venv/bin/python -m devtools.mutation.run                      # every target
    .venv/bin/python -m devtools.mutation.run weprode/tokens.py    # one module
"""

import argparse
import importlib.metadata
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import extra, mutmut_pass, report, retest, runner
from .report import Result
from .targets import BROWSER_TESTS, JOBS, ROOT, TARGETS, WORK

REPORT = Path(__file__).with_name("REPORT.md")
REPORT_EXTRA = Path(__file__).with_name("REPORT-extra.md")
EXTRA_TITLE = "Mutation testing report: the extra pass alone (both passes: REPORT.md)"
SAVED = WORK / "results"  # each module's latest results per pass, for --assemble
PASSES = ["mutmut", "extra"]


def project_files():
    """Every file git knows or would add (tracked plus untracked, not ignored).

    Uncommitted edits are included: the run tests the working tree as it is.
    """
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name]


def git_status():
    """`git status --porcelain`, without the reports this tool writes."""
    out = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    reports = (REPORT, REPORT_EXTRA)
    return {line for line in out.splitlines() if not line.endswith(tuple(r.name for r in reports))}


def fingerprint(modules):
    """The content of the target modules: what a mutator that went wrong would change."""
    return {module: (ROOT / module).read_bytes() for module in modules}


# extra pass -------------------------------------------------------------------------


def run_extra(modules, files, more_tests):
    """The supplemental mutants of every module, tested in JOBS scratch copies.

    Each module's tests: its TARGETS files plus `more_tests[module]`.
    """
    copies = [WORK / f"extra-{n}" for n in range(JOBS)]
    for copy in copies:
        runner.make_copy(files, ROOT, copy)
    results = []
    for path in modules:
        source = (ROOT / path).read_text()
        mutants = extra.generate(path, source)
        tests = TARGETS[path] + [
            name for name in more_tests.get(path, []) if BROWSER_TESTS not in name
        ]
        started = time.monotonic()
        _, seconds = runner.run_tests(copies[0], tests, timeout=600)
        timeout = max(60, 3 * seconds + 30)
        print(f"extra: {path}: {len(mutants)} mutants, tests take {seconds:.0f} s", flush=True)
        outcomes = runner.run_mutants(copies, path, tests, mutants, timeout)
        print(f"extra: {path} done in {time.monotonic() - started:.0f} s", flush=True)
        for outcome in outcomes:
            mutant = outcome.mutant
            before, after = mutant.lines_changed(source)
            results.append(
                Result(
                    id="",
                    path=path,
                    line=mutant.line,
                    scope=mutant.scope,
                    tool="extra",
                    kind=mutant.kind,
                    before=before,
                    after=after,
                    description=mutant.description,
                    status=outcome.status,
                )
            )
    return results


# driver -----------------------------------------------------------------------------


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="target modules (default: all of TARGETS)")
    parser.add_argument("--only", choices=["mutmut", "extra"], help="run one pass only")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep mutmut's copy and cache from an interrupted run (default: start afresh)",
    )
    parser.add_argument(
        "--assemble",
        action="store_true",
        help="run nothing: write REPORT.md and REPORT-extra.md from the latest saved run "
        "of each target module and pass (mutants/results/)",
    )
    parser.add_argument(
        "--retest",
        action="store_true",
        help="re-test only the survivors of the modules' latest saved runs with today's "
        "tests (after adding tests against them), then assemble the reports",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="where to write the report (default: devtools/mutation/REPORT.md for a full "
        "run, mutants/REPORT.md for a partial one)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Run the passes, write the report, print the scores; exit 0 even with survivors."""
    args = parse_args(argv if argv is not None else sys.argv[1:])
    if args.assemble:
        return assemble()
    if args.retest:
        os.chdir(ROOT)
        files = [name for name in project_files() if not name.startswith("mutants/")]
        commit = run_stamp()["commit"]
        retest.retest(args.modules or list(TARGETS), SAVED, files, commit)
        return assemble()
    modules = args.modules or list(TARGETS)
    unknown = [module for module in modules if module not in TARGETS]
    if unknown:
        raise SystemExit(
            f"not a target (see TARGETS in devtools/mutation/targets.py): {', '.join(unknown)}"
        )
    full = modules == list(TARGETS) and not args.only
    destination = args.report or (REPORT if full else WORK / "REPORT.md")
    os.chdir(ROOT)
    WORK.mkdir(exist_ok=True)
    status_before, targets_before = git_status(), fingerprint(modules)
    stamp = run_stamp()  # what the scratch copies are made from
    started = time.monotonic()
    files = [name for name in project_files() if not name.startswith("mutants/")]
    results, unlisted = [], {}
    try:
        if args.only != "extra":
            for stage, group, selection in mutmut_pass.mutmut_groups(modules):
                log = stage.with_name(stage.name + ".log")
                mutmut_pass.run_mutmut(stage, group, selection, files, log, args.resume)
                mutmut_found = mutmut_pass.mutmut_results(stage, group)
                mutmut_pass.retest_untested(stage, mutmut_found)
                results += mutmut_found
                unlisted |= mutmut_pass.unlisted_test_files(stage, group)
        if args.only != "mutmut":
            results += run_extra(modules, files, unlisted)
    finally:
        # The passes only write under mutants/; a changed target means one of them broke
        # that promise. Other changes are someone editing during the run: only a warning.
        if fingerprint(modules) != targets_before:
            print("error: a target module changed during the run", file=sys.stderr)
            sys.exit(1)
        if git_status() != status_before:
            print("warning: the working tree changed during the run", file=sys.stderr)
    minutes = (time.monotonic() - started) / 60
    report.save(results, SAVED, modules, [args.only] if args.only else PASSES, stamp)
    report.assign_ids(results)
    stale = report.apply_equivalents(results, report.load_equivalents())
    header = report_header(run_made(stamp, minutes, args.only), modules)
    for module, test_files in unlisted.items():
        header += (
            f"\n\nNote: {', '.join(test_files)} reach `{module}` in-process (mutmut's stats) "
            "but are not in its TARGETS list; the extra pass ran them too."
        )
    destination.write_text(report.markdown(results, modules, stale, header))
    if destination == REPORT:  # a full run: the extra pass alone too
        extra_results = [result for result in results if result.tool == "extra"]
        header = header.replace("# Mutation testing report", f"# {EXTRA_TITLE}", 1)
        REPORT_EXTRA.write_text(report.markdown(extra_results, modules, {}, header))
    report.print_scores(results, modules)
    print(f"report: {destination} ({minutes:.0f} min)")
    return 0


def assemble():
    """REPORT.md (both passes) and REPORT-extra.md from the latest saved runs."""
    modules = list(TARGETS)
    results, stamps = report.load_saved(SAVED, modules, PASSES)
    report.assign_ids(results)
    stale = report.apply_equivalents(results, report.load_equivalents())
    lines = [
        "Assembled by `devtools/mutation/run.py --assemble` from the latest run of each "
        "module and pass (a run of one module replaces only that module's results):",
        "",
        "| module | mutmut pass run (start) | extra pass run (start) |",
        "|---|---|---|",
    ]
    for module in modules:
        cells = []
        for tool in PASSES:
            stamp = stamps.get((module, tool))
            cell = f"{stamp['date']}, commit `{stamp['commit']}`" if stamp else "not run"
            if stamp and stamp.get("retested"):
                cell += f"; survivors re-tested {stamp['retested']}"
            cells.append(cell)
        lines.append(f"| {module} | {' | '.join(cells)} |")
    header = report_header("\n".join(lines), modules)
    REPORT.write_text(report.markdown(results, modules, stale, header))
    extra = [result for result in results if result.tool == "extra"]
    header = report_header("\n".join(lines), modules, EXTRA_TITLE)
    REPORT_EXTRA.write_text(report.markdown(extra, modules, {}, header))
    report.print_scores(results, modules)
    print(f"report: {REPORT.relative_to(ROOT)}, {REPORT_EXTRA.relative_to(ROOT)}")
    return 0


def run_stamp():
    """When and on what a run was made: {"date", "commit"} (commit marked if dirty)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = " with uncommitted changes" if git_status() else ""
    return {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "commit": commit + dirty}


def run_made(stamp, minutes, only):
    """The report's sentence on how a run made it (`stamp`: when it started, on what)."""
    passes = {None: "both passes", "mutmut": "mutmut pass only", "extra": "extra pass only"}
    return (
        f"Written by `make mutation` (`devtools/mutation/run.py`, {passes[only]}), started "
        f"{stamp['date']} at commit `{stamp['commit']}`; the run took {minutes:.0f} "
        "minutes on 2 cores."
    )


def report_header(made, modules, title="Mutation testing report"):
    """The report's title, how it was made (`made`) and how to read it."""
    mutmut_version = f"mutmut {importlib.metadata.version('mutmut')}"
    return "\n".join(
        [
            f"# {title}",
            "",
            made,
            "",
            f"Tools: {mutmut_version} on function bodies; the extra pass "
            "(`devtools/mutation/extra.py`, `sql.py`) on SQL operators, module and class "
            "constants, decorators and the bodies of decorated functions (which mutmut skips).",
            "",
            "Score = (killed + timeout) / (total - equivalent). mutmut's mutants in functions "
            "no test calls in-process (run only by a child process, such as the crash test's "
            "`flask campaigns send`) are tested with the module's TARGETS test files instead. "
            "*no tests*: none left. "
            "*other*: mutmut's suspicious / segfault / not checked. How to read and update "
            "this file: `devtools/mutation/README.md`.",
            "",
            f"Modules: {', '.join(f'`{m}`' for m in modules)}.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
