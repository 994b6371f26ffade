"""Documentation that runs: every ```python block in README.md and docs/*.md is executed.

Blocks of one page run in order in one namespace, in a fresh STOREMIND_HOME, from the project's
root (so relative paths such as ../shared/data work as the docs say).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_page_examples_run(page: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks(page)):
        try:
            exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.name}, python block {i} failed: {exc!r}") from exc


def test_readme_opens_with_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first = re.search(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
    assert first, "README has no command block"
    commands = [ln.split("#")[0].strip() for ln in first.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]
