"""The mutmut pass: function bodies, in a scratch copy of the project per group.

mutmut (3.8.x) is configured from TARGETS in a `[tool.mutmut]` table of the copy's
pyproject.toml; its results are read back as `report.Result`s located in the
original file, and the mutants it found no test for are re-tested with TARGETS.
"""

import ast
import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

from . import runner
from .report import Result
from .targets import BROWSER_TESTS, JOBS, NOT_FOR_MUTMUT, OWN_TESTS_ONLY, ROOT, TARGETS, WORK


def mutmut_groups(modules):
    """[(scratch directory, modules, test selection)]: one mutmut run each.

    Modules in OWN_TESTS_ONLY get a run of their own over their TARGETS files; the
    others share one run in which mutmut may pick any non-browser test.
    """
    shared = [module for module in modules if module not in OWN_TESTS_ONLY]
    ignored = [f"--ignore={name}" for name in [BROWSER_TESTS, *NOT_FOR_MUTMUT]]
    groups = [(WORK / "mutmut", shared, ["tests", *ignored])] if shared else []
    for module in modules:
        if module in OWN_TESTS_ONLY:
            stage = WORK / f"mutmut-{Path(module).stem}"
            groups.append((stage, [module], list(TARGETS[module])))
    return groups


def mutmut_config(modules, selection):
    """The [tool.mutmut] table for the scratch copy's pyproject.toml."""
    also_copy = ["app.py", "babel.cfg", "templates", "static", "instance", "devtools", "deploy"]
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
    """Test again, with their module's TARGETS files, the mutants mutmut found no test
    for or could not judge.

    mutmut chooses tests by the calls it records in the test process, so a function
    that runs only in a child process (the crash test's `flask campaigns send` taking
    over a dead sender) looks untested. The mutant is still selectable in any process
    by MUTANT_UNDER_TEST, which children inherit; so run the module's test files in a
    fresh pytest in mutmut's directory with that variable set. mutmut calls
    *suspicious* a run whose process ended by a signal it does not know, such as the
    SIGHUP a mutant `os.kill(pid, 0)` -> `os.kill(pid, 1)` sends to its own process:
    the fresh run says whether the tests fail.
    """
    directory = stage / "mutants"
    todo = [result for result in results if result.status in ("no tests", "other")]
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
    print(f"mutmut: {len(todo)} mutants without tests or verdict, retried with TARGETS", flush=True)

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
