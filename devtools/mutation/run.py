"""Mutation testing of the modules that keep the legal promises: `make mutation`.

Two passes over each target module, then one report (devtools/mutation/REPORT.md):

1. mutmut (function bodies), run in a scratch copy of the project under
   `mutants/mutmut/`, with its configuration generated from TARGETS below;
2. devtools/mutation/extra.py (SQL operators, constants, decorators), each mutant in
   a scratch copy under `mutants/extra-N/`, testing the module's test files.

Neither pass writes to the working tree, so an interrupted run leaves nothing to
restore; the driver still compares `git status` before and after.

    .venv/bin/python -m devtools.mutation.run                      # every target
    .venv/bin/python -m devtools.mutation.run weprode/tokens.py    # one module
"""

import argparse
import ast
import difflib
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import extra, report, runner
from .report import Result

# The one place that names the targets: each module that keeps a legal or delivery
# promise, with the test files that state its promises. mutmut chooses its own tests
# (every non-browser test that calls the mutated function in-process); the extra pass
# runs the files listed here plus those mutmut saw reaching the module, and mutmut's
# mutants that no test reaches in-process are re-tested with the files listed here
# (code run only by a child process). When a module moves, edit its path here only.
TARGETS = {
    "weprode/tokens.py": [
        "tests/test_token_promises.py",
        "tests/test_newsletter_signup.py",
        "tests/test_newsletter_optout.py",
        "tests/test_rights.py",
        "tests/test_security.py",
        "tests/test_import.py",
        "tests/test_campaigns.py",
        "tests/test_usage_log.py",
    ],
    "weprode/newsletter/optout.py": [
        "tests/test_optout_promises.py",
        "tests/test_newsletter_optout.py",
        "tests/test_admin_subscribers.py",
        "tests/test_campaigns.py",
        "tests/test_retention.py",
    ],
    "weprode/campaigns/ledger.py": [
        "tests/test_ledger_promises.py",
        "tests/test_sender_promises.py",
        "tests/test_campaigns.py",
        "tests/test_admin_campaigns.py",
        "tests/test_campaign_crash.py",
    ],
    "weprode/campaigns/senders.py": [
        "tests/test_sender_promises.py",
        "tests/test_ledger_promises.py",
        "tests/test_campaigns.py",
        "tests/test_campaign_crash.py",
    ],
    "weprode/privacy/retention.py": [
        "tests/test_retention_promises.py",
        "tests/test_retention.py",
        "tests/test_rights.py",
        "tests/test_contact.py",
    ],
    "weprode/privacy/subscriber_purge.py": [
        "tests/test_retention_promises.py",
        "tests/test_retention.py",
    ],
    "weprode/privacy/bulk_delete.py": [
        "tests/test_retention_promises.py",
        "tests/test_retention.py",
    ],
    "weprode/security.py": [
        "tests/test_security_promises.py",
        "tests/test_security.py",
    ],
}

# Modules whose mutmut pass runs their TARGETS files only, in a mutmut copy of their own.
# security.py's hooks run in every request, so mutmut would otherwise pick nearly every
# test for each of its mutants (40 minutes for the module instead of two).
OWN_TESTS_ONLY = {"weprode/security.py"}

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "mutants"  # git-ignored scratch space
REPORT = Path(__file__).with_name("REPORT.md")
REPORT_EXTRA = Path(__file__).with_name("REPORT-extra.md")
SAVED = WORK / "results"  # each module's latest results per pass, for --assemble
PASSES = ["mutmut", "extra"]
BROWSER_TESTS = "tests/browser"
JOBS = 2  # the machines this runs on have two cores


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
    """`git status --porcelain`, without the report this tool writes."""
    out = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {line for line in out.splitlines() if not line.endswith("mutation/REPORT.md")}


def fingerprint(modules):
    """The content of the target modules: what a mutator that went wrong would change."""
    return {module: (ROOT / module).read_bytes() for module in modules}


# mutmut ----------------------------------------------------------------------------


def mutmut_groups(modules):
    """[(scratch directory, modules, test selection)]: one mutmut run each.

    Modules in OWN_TESTS_ONLY get a run of their own over their TARGETS files; the
    others share one run in which mutmut may pick any non-browser test.
    """
    shared = [module for module in modules if module not in OWN_TESTS_ONLY]
    groups = [(WORK / "mutmut", shared, ["tests", f"--ignore={BROWSER_TESTS}"])] if shared else []
    for module in modules:
        if module in OWN_TESTS_ONLY:
            stage = WORK / f"mutmut-{Path(module).stem}"
            groups.append((stage, [module], list(TARGETS[module])))
    return groups


def mutmut_config(modules, selection):
    """The [tool.mutmut] table for the scratch copy's pyproject.toml."""
    also_copy = ["app.py", "babel.cfg", "templates", "static", "instance", "devtools"]
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["weprode"]',
        f"only_mutate = {json.dumps(modules)}",
        f"also_copy = {json.dumps(also_copy)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(selection)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
    ]
    return "\n".join(lines) + "\n"


def run_mutmut(stage, modules, selection, files, log, resume=False):
    """Run mutmut over `modules` in a fresh scratch copy `stage`; returns `stage`.

    With `resume`, an existing copy and mutmut's cache are kept, so an interrupted run
    carries on (mutmut re-tests the functions whose code changed, not the tests).
    """
    if not (resume and (stage / "mutants").is_dir()):
        runner.make_copy(files, ROOT, stage)
        with open(stage / "pyproject.toml", "a") as pyproject:
            pyproject.write(mutmut_config(modules, selection))
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {k: v for k, v in os.environ.items() if k not in ("MUTANT_UNDER_TEST", "PYTHONPATH")}
    print(f"mutmut: {', '.join(modules)} (log: {log.relative_to(ROOT)})", flush=True)
    with open(log, "w") as out:
        code = subprocess.run(
            [str(mutmut), "run", "--max-children", str(JOBS)],
            cwd=stage,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode
    if code != 0:
        raise SystemExit(f"mutmut failed (exit {code}); see {log}")
    return stage


def mutmut_statuses(stage):
    """{mutant name: status} from `mutmut results --all`."""
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=stage,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    return statuses


def functions_by_name(tree):
    """Top-level and class-level functions of a module, by name and by qualname."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[item.name] = item
                    found[f"{node.name}.{item.name}"] = item
    return found


def mutmut_results(stage, modules):
    """A Result per mutmut mutant, located in the original file by diffing functions."""
    statuses = mutmut_statuses(stage)
    results = []
    for path in modules:
        module = runner.module_name(path)
        original = (stage / path).read_text()
        original_functions = functions_by_name(ast.parse(original))
        mutated = (stage / "mutants" / path).read_text()
        mutated_lines = mutated.splitlines()
        mutated_functions = functions_by_name(ast.parse(mutated))

        def lines_of(node, lines=mutated_lines):
            return lines[node.lineno - 1 : node.end_lineno]

        for name, status in statuses.items():
            if not name.startswith(module + ".") or "__mutmut_" not in name[len(module) + 1 :]:
                continue
            short_name = name[len(module) + 1 :]
            mangled = short_name.partition("__mutmut_")[0]
            if mangled.startswith("x_"):
                scope = mangled[2:]
            else:
                _, class_name, function = mangled.split("ǁ")
                scope = f"{class_name}.{function}"
            orig = lines_of(mutated_functions[mangled + "__mutmut_orig"])
            mutant = lines_of(mutated_functions[short_name])
            mutant[0] = mutant[0].replace(short_name, mangled + "__mutmut_orig")
            matcher = difflib.SequenceMatcher(a=orig, b=mutant, autojunk=False)
            changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
            _, i1, i2, j1, j2 = changes[0] if changes else ("equal", 0, 0, 0, 0)
            before = " ".join(line.strip() for line in orig[i1:i2])
            after = " ".join(line.strip() for line in mutant[j1:j2])
            line = original_functions[scope].lineno + i1 if scope in original_functions else 0
            results.append(
                Result(
                    id="",
                    path=path,
                    line=line,
                    scope=scope,
                    tool="mutmut",
                    kind="body",
                    before=before,
                    after=after,
                    description="",
                    status=normalise(status),
                    name=name,
                )
            )
    return results


def retest_untested(stage, results):
    """Test the mutants mutmut found no test for, with their module's TARGETS files.

    mutmut chooses tests by the calls it records in the test process, so a function
    that runs only in a child process (the crash test's `flask campaigns send` taking
    over a dead sender) looks untested. The mutant is still selectable in any process
    by MUTANT_UNDER_TEST, which children inherit; so run the module's test files in a
    fresh pytest in mutmut's directory with that variable set.
    """
    directory = stage / "mutants"
    todo = [result for result in results if result.status == "no tests"]
    timeouts = {}

    def environment(name):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["MUTANT_UNDER_TEST"] = name
        return env

    for path in sorted({result.path for result in todo}):
        status, seconds = runner.run_tests(directory, TARGETS[path], 600, environment(""))
        if status != "survived":
            raise SystemExit(f"{path}: the tests fail in {directory} without any mutant")
        timeouts[path] = max(60, 3 * seconds + 30)
    print(f"mutmut: {len(todo)} mutants without tests, retried with TARGETS", flush=True)

    def one(result):
        timeout = timeouts[result.path]
        status, _ = runner.run_tests(
            directory, TARGETS[result.path], timeout, environment(result.name)
        )
        result.status = status
        print(f"  {status:8} {result.path}:{result.line} {result.before} -> {result.after}")

    runner.parallel(one, todo, JOBS)


def unlisted_test_files(stage, modules):
    """{module: test files that reach it in-process (mutmut's stats) but not in TARGETS}.

    The extra pass adds them to the module's TARGETS files, so a stale list cannot make
    a mutant survive for want of the test that would kill it.
    """
    stats = json.loads((stage / "mutants" / "mutmut-stats.json").read_text())
    reached = {module: set() for module in modules}
    for function, tests in stats["tests_by_mangled_function_name"].items():
        for module in modules:
            if function.startswith(runner.module_name(module) + "."):
                reached[module] |= {test.partition("::")[0] for test in tests}
    return {
        module: sorted(files - set(TARGETS[module]))
        for module, files in reached.items()
        if files - set(TARGETS[module])
    }


def normalise(status):
    """mutmut's statuses folded into the report's columns."""
    if status in ("killed", "timeout", "survived", "no tests"):
        return status
    return "other"  # suspicious, segfault, not checked, skipped ...


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
    modules = args.modules or list(TARGETS)
    unknown = [module for module in modules if module not in TARGETS]
    if unknown:
        raise SystemExit(f"not a target (see TARGETS in {__file__}): {', '.join(unknown)}")
    full = modules == list(TARGETS) and not args.only
    destination = args.report or (REPORT if full else WORK / "REPORT.md")
    os.chdir(ROOT)
    WORK.mkdir(exist_ok=True)
    status_before, targets_before = git_status(), fingerprint(modules)
    started = time.monotonic()
    files = [name for name in project_files() if not name.startswith("mutants/")]
    results, unlisted = [], {}
    try:
        if args.only != "extra":
            for stage, group, selection in mutmut_groups(modules):
                log = stage.with_name(stage.name + ".log")
                run_mutmut(stage, group, selection, files, log, args.resume)
                mutmut_found = mutmut_results(stage, group)
                retest_untested(stage, mutmut_found)
                results += mutmut_found
                unlisted |= unlisted_test_files(stage, group)
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
    report.save(results, SAVED, modules, [args.only] if args.only else PASSES, run_stamp())
    report.assign_ids(results)
    stale = report.apply_equivalents(results, report.load_equivalents())
    header = report_header(run_made(minutes, args.only), modules)
    for module, test_files in unlisted.items():
        header += (
            f"\n\nNote: {', '.join(test_files)} reach `{module}` in-process (mutmut's stats) "
            "but are not in its TARGETS list; the extra pass ran them too."
        )
    destination.write_text(report.markdown(results, modules, stale, header))
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
        "| module | mutmut pass run | extra pass run |",
        "|---|---|---|",
    ]
    for module in modules:
        cells = []
        for tool in PASSES:
            stamp = stamps.get((module, tool))
            cells.append(f"{stamp['date']}, commit `{stamp['commit']}`" if stamp else "not run")
        lines.append(f"| {module} | {' | '.join(cells)} |")
    header = report_header("\n".join(lines), modules)
    REPORT.write_text(report.markdown(results, modules, stale, header))
    extra = [result for result in results if result.tool == "extra"]
    title = "Mutation testing report: the extra pass alone (both passes: REPORT.md)"
    header = report_header("\n".join(lines), modules, title)
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


def run_made(minutes, only):
    """The report's sentence on how a run made it."""
    stamp = run_stamp()
    commit, _, dirty = stamp["commit"].partition(" ")
    dirty = f" {dirty}" if dirty else ""
    passes = {None: "both passes", "mutmut": "mutmut pass only", "extra": "extra pass only"}
    return (
        f"Written by `make mutation` (`devtools/mutation/run.py`, {passes[only]}) on "
        f"{datetime.now(UTC):%Y-%m-%d} at commit `{commit}`{dirty}; the run took "
        f"{minutes:.0f} minutes on 2 cores."
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
