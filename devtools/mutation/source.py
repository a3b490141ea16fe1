"""Where a mutant sits in a source file: the text edit, positions, scopes.

A mutant is one text edit of the original source; the helpers here find, for an AST
node, its character span, the function or class around it, and whether it is a
docstring or display text (never mutated).
"""

import ast
from dataclasses import dataclass

# Calls whose string arguments are display text (translated), not behaviour.
TEXT_CALLS = {"_", "_l", "gettext", "lazy_gettext", "ngettext"}


@dataclass(frozen=True)
class Mutant:
    """One text edit of a source file: replace [start, end) by `replacement`.

    Positions are (line, column) with 1-based lines and 0-based character columns.
    """

    path: str
    scope: str
    kind: str
    start: tuple
    end: tuple
    replacement: str
    description: str

    @property
    def line(self):
        """The line the edit starts on."""
        return self.start[0]

    def apply(self, source):
        """The mutated source text."""
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        begin = offsets[self.start[0] - 1] + self.start[1]
        finish = offsets[self.end[0] - 1] + self.end[1]
        return source[:begin] + self.replacement + source[finish:]

    def lines_changed(self, source):
        """(original line, mutated line), stripped, for ids and the report."""
        before = source.splitlines()[self.start[0] - 1].strip()
        after = self.apply(source).splitlines()[self.start[0] - 1].strip()
        return before, after


class Positions:
    """Converts the AST's UTF-8 byte columns into character columns."""

    def __init__(self, source):
        self.lines = source.splitlines(keepends=True)

    def char(self, line, byte_col):
        """The character column of a byte column on a 1-based line."""
        return len(self.lines[line - 1].encode()[:byte_col].decode())

    def span(self, node):
        """A node's (start, end) in character columns."""
        start = (node.lineno, self.char(node.lineno, node.col_offset))
        end = (node.end_lineno, self.char(node.end_lineno, node.end_col_offset))
        return start, end

    def text(self, start, end):
        """The source between two positions."""
        if start[0] == end[0]:
            return self.lines[start[0] - 1][start[1] : end[1]]
        parts = [self.lines[start[0] - 1][start[1] :]]
        parts += self.lines[start[0] : end[0] - 1]
        parts.append(self.lines[end[0] - 1][: end[1]])
        return "".join(parts)


def parents_of(tree):
    """Map each node to its parent, so a string knows where it sits."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def scopes_of(tree):
    """Map each node to the qualified name of the function or class around it."""
    scopes = {}

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{scope}.{child.name}" if scope != "<module>" else child.name
                # A function's decorators belong to the scope that defines it.
                for decorator in child.decorator_list:
                    scopes[decorator] = scope
                    for sub in ast.walk(decorator):
                        scopes[sub] = scope
            scopes.setdefault(child, inner if child is not node else scope)
            visit(child, inner)

    visit(tree, "<module>")
    return scopes


def is_docstring(node, parents):
    """True for the string statement that opens a module, class or function."""
    statement = parents.get(node)
    if not isinstance(statement, ast.Expr):
        return False
    owner = parents.get(statement)
    body = getattr(owner, "body", None)
    return bool(body) and body[0] is statement


def inside_text_call(node, parents):
    """True when the node is an argument of `_l(...)` and friends."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in TEXT_CALLS:
                return True
    return False
