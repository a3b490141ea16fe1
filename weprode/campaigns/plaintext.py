"""A campaign's Markdown as readable plain text, for the text/plain part.

Raw Markdown is not plain text: `**`, `[text](url)` and `#` are noise to a reader. Here
emphasis marks go, headings are underlined, list items keep a dash or a number, and
each link becomes `text [n]` with the numbered addresses listed at the end, the way
text mail programs show links.
"""

from collections.abc import Callable

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.tree import SyntaxTreeNode

# The same parser settings as the HTML part (campaigns.render), so both say the same.
markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def rewrite_links(state: StateCore) -> None:
    """Pass every link's address through `env["rewrite_link"]`, when given.

    A core rule, so the HTML part and the text part (both parse with `markdown`) carry
    the same addresses: a French reader's links to our pages open them in French.
    """
    rewrite = state.env.get("rewrite_link")
    if rewrite is None:
        return
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("href", rewrite(str(child.attrGet("href") or "")))


markdown.core.ruler.push("rewrite_links", rewrite_links)
UNDERLINES = {"h1": "=", "h2": "-"}
RULE = "* * *"


def plain_text(markdown_source: str, rewrite_link: Callable[[str], str] | None = None) -> str:
    """The text a reader sees in the HTML part, laid out for a plain-text mail.

    `rewrite_link(url)`, when given, changes each link's address (see `rewrite_links`).
    """
    links: list[str] = []
    env = {"rewrite_link": rewrite_link} if rewrite_link else {}
    tree = SyntaxTreeNode(markdown.parse(markdown_source, env))
    text = "\n\n".join(blocks(tree, links))
    if links:
        text += "\n\n" + "\n".join(f"[{number}] {url}" for number, url in enumerate(links, 1))
    return text


def blocks(node: SyntaxTreeNode, links: list[str]) -> list[str]:
    """The blocks under `node` as text, empty ones left out."""
    return [text for text in (block(child, links) for child in node.children) if text]


def block(node: SyntaxTreeNode, links: list[str]) -> str:
    """One block (heading, paragraph, list, quote, code, rule, table) as text."""
    kind = node.type
    if kind == "heading":
        title = inline(node.children[0], links)
        mark = UNDERLINES.get(node.tag)
        return f"{title}\n{mark * len(title)}" if mark else title
    if kind == "paragraph":
        return inline(node.children[0], links)
    if kind in ("bullet_list", "ordered_list"):
        return list_text(node, links)
    if kind == "blockquote":
        quoted = "\n\n".join(blocks(node, links))
        return "\n".join(f"> {line}".rstrip() for line in quoted.split("\n"))
    if kind in ("fence", "code_block"):
        return "\n".join(f"    {line}" for line in node.content.rstrip("\n").split("\n"))
    if kind == "hr":
        return RULE
    if kind == "table":
        return "\n".join(table_rows(node, links))
    return "\n\n".join(blocks(node, links))


def list_text(node: SyntaxTreeNode, links: list[str]) -> str:
    """A list as `- item` or `1. item` lines, continuation lines indented under the text."""
    first = int(node.attrs.get("start", 1))
    lines = []
    for position, item in enumerate(node.children):
        marker = f"{first + position}. " if node.type == "ordered_list" else "- "
        body = "\n".join(blocks(item, links)).split("\n")
        lines.append(marker + body[0])
        lines += [f"{' ' * len(marker)}{line}" if line else "" for line in body[1:]]
    return "\n".join(lines)


def table_rows(node: SyntaxTreeNode, links: list[str]) -> list[str]:
    """Each table row as its cells separated by ` | `."""
    if node.type == "tr":
        return [" | ".join(inline_of(cell, links) for cell in node.children)]
    return [row for child in node.children for row in table_rows(child, links)]


def inline_of(node: SyntaxTreeNode, links: list[str]) -> str:
    """The inline text of a block that may be empty (a table cell)."""
    return "".join(inline(child, links) for child in node.children)


def inline(node: SyntaxTreeNode, links: list[str]) -> str:
    """Inline content as text: emphasis marks dropped, links numbered into `links`."""
    kind = node.type
    if kind in ("text", "code_inline", "html_inline"):
        return node.content
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "image":
        return inline_of(node, links) or ""
    text = "".join(inline(child, links) for child in node.children)
    if kind == "link":
        url = str(node.attrs.get("href", ""))
        if not url or url in (text, f"mailto:{text}"):
            return text or url
        links.append(url)
        return f"{text} [{len(links)}]"
    return text
