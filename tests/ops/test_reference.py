"""The language reference's operator table says what the registry says.

Parsed from the committed docs/language/reference.md (generated from the registry by
scripts/gen_docs.py; tests/golden/test_docs.py checks that it is fresh), so this also fails
when the generator drops or garbles an entry.
"""

from __future__ import annotations

import re
from pathlib import Path

from dslc.ops.registry import OPERATORS

REFERENCE = Path(__file__).resolve().parent.parent.parent / "docs" / "language" / "reference.md"


def _section() -> str:
    text = REFERENCE.read_text("utf-8")
    start = text.index("## Network operators")
    return text[start:text.index("\n## ", start + 1)]


def _table() -> dict[str, tuple[str, str]]:
    """operator -> (tensor inputs, attributes) from the section's Markdown table."""
    rows: dict[str, tuple[str, str]] = {}
    for line in _section().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[2], cells[3])
    return rows


def _arity(text: str) -> tuple[int, int | None]:
    match = re.fullmatch(r"(\d+)(?: or (more)| to (\d+))?", text)
    assert match, text
    fewest = int(match[1])
    if match[2]:
        return fewest, None
    return fewest, int(match[3]) if match[3] else fewest


def _attributes(text: str) -> list[tuple[str, bool]]:
    """(name, required) per attribute, in the cell's order."""
    if text == "none":
        return []
    return [(name, bool(required)) for name, required in
            re.findall(r"(?:^|; )`(\w+)`( \(required\))?:", text)]


def test_every_table_row_is_a_registry_spelling_with_its_arity_and_attributes() -> None:
    table = _table()
    listed: set[str] = set()
    for entry in OPERATORS:
        if entry.listing != "table":
            continue
        for name in entry.names:
            assert name in table, f"`{name}` is missing from the reference"
            inputs, attributes = table[name]
            assert _arity(inputs) == (entry.min_inputs, entry.max_inputs), name
            assert _attributes(attributes) == [(a.name, a.required)
                                               for a in entry.attributes], name
            listed.add(name)
    assert set(table) == listed
    # Spot checks of the parse itself, from the drifted pair and a window operator.
    assert table["add"][0] == "2 or more" and table["mul"][0] == "2"
    assert _attributes(table["conv"][1])[:2] == [("out", True), ("kernel", True)]


def test_the_functions_sentence_and_the_einsum_syntax() -> None:
    section = _section()
    sentence = next(line for line in section.splitlines()
                    if line.startswith("Elementwise functions"))
    assert "one tensor in" in sentence and "no attributes" in sentence
    functions = [name for entry in OPERATORS if entry.listing == "functions"
                 for name in entry.names]
    assert re.findall(r"`(\w+)`", sentence) == functions
    for entry in OPERATORS:
        if entry.listing == "functions":
            assert (entry.min_inputs, entry.max_inputs, entry.attributes) == (1, 1, ())
    syntax = [entry for entry in OPERATORS if entry.listing == "syntax"]
    assert [entry.names for entry in syntax] == [("einsum",)]
    assert "`einsum { ... }`" in section
