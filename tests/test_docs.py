"""The docs name what exists: every repository path, nasrl module and code symbol that README.md
and docs/*.md name in code spans or links is there, so a rename cannot leave them behind."""

import importlib
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "config" / "README.md"]
# Where the repository's own files live: a path starting here must exist.
TOP = ("src/", "tests/", "config/", "docs/", "workflow/", "benchmarks/", "profiles/", "slurm/", ".ci/")
TOP_FILES = {"Snakefile", "dvc.yaml", "data.dvc", "pyproject.toml", "README.md"}
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
PATH = re.compile(r"^(?:\.\./)?[\w.\-/]+$")
MODULE = re.compile(r"^nasrl(?:\.\w+)+$")  # nasrl.status and the like are MLflow tags, not modules: see is_module
# A code symbol: CamelCase, UPPER_CASE or a call such as ``train_child()``.
SYMBOL = re.compile(r"^(?:[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+|[A-Z][A-Z0-9]*_[A-Z0-9_]+|[a-z_][a-z0-9_]*\(\))$")


def spans(doc: Path) -> list[tuple[int, str]]:
    found = []
    in_block = False
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            found += [(number, m) for m in CODE.findall(line)]
    return found


def repository_path(text: str) -> str | None:
    """The repository path a code span names (``src/nasrl/x.py``, ``tests/test_y.py::name``, or a
    path inside the package such as ``training/child.py``), else None."""
    text = text.split("::")[0].split(":")[0].rstrip("/.,")
    if not PATH.match(text) or any(c in text for c in "*{}<>"):
        return None
    if text in TOP_FILES or text.startswith(TOP):
        return text
    first = text.split("/")[0]  # a module's path inside the package (a results folder has settings/ too)
    if text.endswith(".py") and first and (ROOT / "src" / "nasrl" / first).is_dir():
        return f"src/nasrl/{text}"
    return None


def named_tests(text: str) -> list[str]:
    """The test names a ``tests/x.py::name`` span gives (none for a bare path)."""
    return [name for name in text.split("::")[1:2] if name]


def definition_of(name: str) -> str:
    """What the test file must hold for ``name``: ``def name(``, or ``def prefix`` for ``prefix*``
    (a family of tests); a parametrized id's ``[...]`` is not part of the function's name."""
    name = name.split("[")[0]
    return f"def {name[:-1]}" if name.endswith("*") else f"def {name}("


# Names of other programs the docs quote (SLURM job states, ...), not nasrl's symbols.
NOT_OURS = {"OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "CUDA_VISIBLE_DEVICES", "XDG_RUNTIME_DIR", "TMPDIR"}


def names_a_module(name: str) -> bool:
    """Whether ``nasrl.x...`` starts with one of the package's modules (else it is a tag name)."""
    first = name.split(".")[1]
    return (ROOT / "src" / "nasrl" / first).is_dir() or (ROOT / "src" / "nasrl" / f"{first}.py").is_file()


@cache
def source_text() -> str:
    files = [p for folder in ("src", "workflow", "config", "benchmarks", "profiles", "slurm")
             for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in (".py", ".smk", ".yaml", ".sh", ".toml")]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files + [ROOT / "Snakefile"])


def module_exists(name: str) -> bool:
    """``nasrl.a.b`` is a module, or an attribute of the longest module it starts with."""
    parts = name.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        target = module
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_module_and_symbol_the_docs_name_exists(doc):
    missing = []
    base = doc.parent
    for number, text in spans(doc):
        path = repository_path(text)
        if path is not None and not (ROOT / path).exists():
            missing.append(f"{number}: path {text}")
        elif path is not None and any(definition_of(name) not in (ROOT / path).read_text(encoding="utf-8")
                                      for name in named_tests(text)):
            missing.append(f"{number}: test {text}")
        elif MODULE.match(text) and names_a_module(text) and not module_exists(text):
            missing.append(f"{number}: module {text}")
        elif SYMBOL.match(text) and text not in NOT_OURS and re.search(rf"\b{re.escape(text.rstrip('()'))}\b", source_text()) is None:
            missing.append(f"{number}: symbol {text}")
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        for target in LINK.findall(line):
            if "://" not in target and not target.startswith("mailto:") and not (base / target).exists():
                missing.append(f"{number}: link {target}")
    assert not missing, f"{doc.name} names what does not exist:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_path_module_and_symbol():
    assert repository_path("src/nasrl/settings/choices.py") == "src/nasrl/settings/choices.py"
    assert repository_path("tests/test_docs.py::test_x") == "tests/test_docs.py"
    assert repository_path("training/child.py") == "src/nasrl/training/child.py"
    assert named_tests("tests/test_docs.py::test_x[a]") == ["test_x[a]"] and named_tests("tests/test_docs.py") == []
    assert definition_of("test_x[a]") == "def test_x(" and definition_of("test_v3_*") == "def test_v3_"
    assert repository_path("results/digits-cnn/rounds.csv") is None  # an output, not a repository file
    assert not module_exists("nasrl.training.child.no_such_function")
    assert module_exists("nasrl.training.child.train_child") and module_exists("nasrl.space_kinds")
    assert SYMBOL.match("SPACE_KINDS") and SYMBOL.match("ArchitectureError") and SYMBOL.match("train_child()")
    assert not names_a_module("nasrl.status")  # an MLflow tag
    assert not SYMBOL.match("epochs")  # a plain word is a setting or a column, not checked
