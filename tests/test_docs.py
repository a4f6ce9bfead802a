"""The documentation stands on its own: every link in the repository's Markdown files
reaches a file (and heading) inside the repository, and no code, test or document
cites a contract kept outside it; the contract is docs/api.md."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Folders that are not the repository's own writing.
SKIPPED_DIRS = {"node_modules", ".venv", "__pycache__"}
SKIPPED_PATHS = {ROOT / "bench" / "out"}
#: Built by concatenation so that this file does not cite them itself.
OUTSIDE_CITATIONS = re.compile("|".join(map(re.escape, ["SPEC" + " §", ".." + "/shared"])))
CITATION_ROOTS = ["src", "tests", "docs", "README.md"]
#: The guide for readers of the Flask tutorial; its conventions are in its opening comment.
GUIDE = ROOT / "docs" / "tutorial.md"

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _walk(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir():
            hidden = child.name.startswith(".") and child.name != ".ci"
            if hidden or child.name in SKIPPED_DIRS or child in SKIPPED_PATHS:
                continue
            if child.name.endswith(".egg-info"):
                continue
        yield from _walk(child)


def markdown_files() -> list[Path]:
    return [path for path in _walk(ROOT) if path.suffix == ".md"]


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are code."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(path: Path) -> list[str]:
    text = _prose(path.read_text(encoding="utf-8"))
    return _INLINE_LINK.findall(text) + _REFERENCE.findall(text)


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, and a
    ``-N`` suffix on repeats."""
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def broken(source: Path, target: str) -> str | None:
    """Why a link from ``source`` to ``target`` does not resolve, or None if it does."""
    if _SCHEME.match(target) or target.startswith("//"):
        return None  # a web address (http:, https:, mailto:)
    file_part, _, fragment = target.partition("#")
    if file_part.startswith("/"):
        return "an absolute path, outside the repository"
    resolved = (source.parent / file_part).resolve() if file_part else source
    if not resolved.is_relative_to(ROOT):
        return "outside the repository"
    if not resolved.exists():
        return "no such file"
    if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
        return f"no heading #{fragment} in {resolved.relative_to(ROOT)}"
    return None


def test_the_repository_has_its_own_documents():
    found = {path.relative_to(ROOT).as_posix() for path in markdown_files()}
    assert {"README.md", "docs/api.md", "docs/deploy.md", "bench/README.md"} <= found
    assert not any(part.startswith("node_modules/") for part in found)


@pytest.mark.parametrize(
    "path", markdown_files(), ids=lambda path: path.relative_to(ROOT).as_posix()
)
def test_markdown_links_resolve_inside_the_repository(path: Path):
    problems = [
        f"{target}: {reason}"
        for target in links(path)
        if (reason := broken(path, target)) is not None
    ]
    assert problems == []


def test_the_link_checker_refuses_missing_and_outside_targets(tmp_path: Path):
    readme = ROOT / "README.md"
    assert broken(readme, "docs/api.md#tasks") is None
    assert broken(readme, "https://www.rfc-editor.org/rfc/rfc9457") is None
    assert broken(readme, "#configuration") is None
    assert broken(readme, "docs/nothing-here.md") == "no such file"
    assert broken(readme, "docs/api.md#no-such-heading") is not None
    assert broken(readme, "../" + "shared/SPEC.md") == "outside the repository"
    assert broken(readme, "/etc/passwd") is not None
    page = tmp_path / "page.md"
    page.write_text("[a](one.md) `[b](two.md)`\n\n```\n[c](three.md)\n```\n[d]: four.md\n")
    assert links(page) == ["one.md", "four.md"]


def _text_files() -> Iterator[Path]:
    for name in CITATION_ROOTS:
        for path in _walk(ROOT / name):
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # images and other binaries
            yield path


def test_nothing_cites_a_contract_outside_the_repository():
    citing = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE_CITATIONS.search(line)
    ]
    assert citing == []


# The guide's references: "`name` in [path](target)" (names joined by ", ", " and ",
# " or "), code spans holding a repository path, and links.
_NAME_SPAN = r"`[A-Za-z_][\w.]*`"
_NAMED = re.compile(
    rf"((?:{_NAME_SPAN}(?:,\s+and\s+|,\s+|\s+and\s+|\s+or\s+))*{_NAME_SPAN})"
    r"\s+in\s+\[[^\]]*\]\(\s*([^)\s]+)\s*\)"
)
_PATH_SPAN = re.compile(r"`((?:src|tests|docs|bench|scripts)/[^`\s]*)`")


def guide_references(path: Path) -> dict[str, set[str]]:
    """Repository path (relative to the root) -> the names the guide says it defines."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for target in links(path):
        if not _SCHEME.match(target) and not target.startswith("#"):
            found.setdefault(_repository_path(path, target), set())
    for names, target in _NAMED.findall(text):
        found.setdefault(_repository_path(path, target), set()).update(
            re.findall(r"`([^`]+)`", names)
        )
    for span in _PATH_SPAN.findall(text):
        found.setdefault(span.rstrip("/"), set())
    return found


def _repository_path(source: Path, target: str) -> str:
    resolved = (source.parent / target.partition("#")[0]).resolve()
    return resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else target


def python_names(source: str) -> set[str]:
    """Top-level functions, classes and assigned names, and ``Class.member``."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        for name in _defined(node):
            names.add(name)
            if isinstance(node, ast.ClassDef):
                names.update(f"{name}.{member}" for item in node.body for member in _defined(item))
    return names


def _defined(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return [target.id for target in targets if isinstance(target, ast.Name)]
    return []


def template_names(source: str) -> set[str]:
    return set(re.findall(r"\{%-?\s*(?:macro|block)\s+(\w+)", source))


def undefined(path: Path, names: set[str]) -> list[str]:
    """The names of ``names`` that ``path`` does not define."""
    if not names:
        return []
    source = path.read_text(encoding="utf-8") if path.is_file() else ""
    readers = {".py": python_names, ".html": template_names}
    if path.suffix not in readers:
        return [f"{name} (names are only checked in .py and .html files)" for name in names]
    return sorted(names - readers[path.suffix](source))


_GUIDE_REFERENCES = sorted(guide_references(GUIDE).items())


@pytest.mark.parametrize(
    ("path", "names"), _GUIDE_REFERENCES, ids=[p for p, _ in _GUIDE_REFERENCES]
)
def test_the_guide_names_only_what_exists(path: str, names: set[str]):
    assert (ROOT / path).exists(), f"docs/tutorial.md names {path}, which does not exist"
    assert undefined(ROOT / path, names) == []


def test_the_guide_checker_reads_names_and_refuses_missing_ones(tmp_path: Path):
    docs = ROOT / "docs"
    page = docs / "page.md"  # never written: references resolve from where it would be
    text = (
        "`create_task`, `Task` and\n  `Task.owner` in [the models](../src/doable/x.py);\n"
        "the `list` in [y](../src/doable/y.py#top), see `src/doable/z.py` and [w](w.md).\n"
    )
    named = [(re.findall(r"`([^`]+)`", names), target) for names, target in _NAMED.findall(text)]
    assert named == [
        (["create_task", "Task", "Task.owner"], "../src/doable/x.py"),
        (["list"], "../src/doable/y.py#top"),
    ]
    assert _repository_path(page, "../src/doable/y.py#top") == "src/doable/y.py"
    assert _PATH_SPAN.findall(text) == ["src/doable/z.py"]
    module = tmp_path / "x.py"
    module.write_text("class Task:\n    owner: int\n\ndef create_task():\n    pass\n")
    assert undefined(module, {"create_task", "Task", "Task.owner"}) == []
    assert undefined(module, {"Task.title", "delete_task"}) == ["Task.title", "delete_task"]
    template = tmp_path / "macros.html"
    template.write_text("{% macro task_row(task) -%}{%- endmacro %}{% block content %}")
    assert undefined(template, {"task_row", "content", "field"}) == ["field"]


#: A benchmark run cited as `bench/out/<run>/...`; "... at <commit>" cites one that only
#: the history keeps.
_CITED_RUN = re.compile(r"`bench/out/([^`/\s]+)/[^`]*`(?!\s+at\s+[0-9a-f]{7})")
BENCH_OUT = ROOT / "bench" / "out"


def cited_runs() -> set[str]:
    return {
        run
        for document in (ROOT / "README.md", ROOT / "bench" / "README.md")
        for run in _CITED_RUN.findall(document.read_text(encoding="utf-8"))
    }


def test_bench_out_holds_exactly_the_runs_the_readmes_cite():
    kept = {path.name for path in BENCH_OUT.iterdir() if path.is_dir()}
    assert sorted(cited_runs() - kept) == []  # cited, but not kept
    assert sorted(kept - cited_runs()) == []  # kept, but cited nowhere


def test_a_run_cited_at_a_commit_is_not_expected_in_bench_out():
    text = "raw `bench/out/a/`, `bench/out/b/` at ea6c2e9, `bench/out/c/x.log`"
    assert _CITED_RUN.findall(text) == ["a", "c"]
