"""Notes in code stay short and every pointer to one leads somewhere (issue 22).

A note is defined by a line that reads ``Note [name]`` alone (after ``#``/``//`` and
indentation) or starts ``Note [name]: ...`` at the margin
in the package, ``csrc/`` or the benchmarks, or by a ``## Note [name]`` heading in
``docs/notes.md``, where the long reasoning lives. A pointer ``Note [name] in some/file.py``
must name a file that exists and defines that note.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyvidfast", "csrc", "benchmarks", "tests")
SUFFIXES = {".py", ".h", ".cpp", ".cu", ".cuh", ".sh"}
MAX_NOTE_LINES = 8  # "about 6": the body under the name, blank line ends it
# ``Note [name]`` alone on a line, or ``Note [name]: ...`` opening a line at the margin (an
# indented ``# Note [name]: ...`` comment points at a note, it does not define one)
DEFINITION = re.compile(r"^\s*(?:#|//)?\s*Note \[([^\]]+)\]\s*$|^(?:# |// )?Note \[([^\]]+)\]: ")
POINTER = re.compile(r"Note \[([^\]]+)\],? in (?:the )?`{0,2}([\w./-]+\.(?:py|h|cpp|cu|cuh|md))")


def _files() -> list[Path]:
    return [
        p
        for top in SOURCES
        for p in sorted((ROOT / top).rglob("*"))
        if p.suffix in SUFFIXES and p.is_file() and p.name != "test_notes.py"
    ]


def _text(path: Path) -> str:
    """The file as one line: a note's name or pointer may wrap onto a comment's next line."""
    return re.sub(r"\s*\n\s*(?:#|//)?\s*", " ", path.read_text(errors="replace"))


def _definitions() -> dict[str, list[tuple[Path, int]]]:
    """Note name -> (file, body length) of each definition in code and in docs/notes.md."""
    found: dict[str, list[tuple[Path, int]]] = {}
    for path in _files():
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            m = DEFINITION.match(line)
            if m is None:
                continue
            name = m.group(1) or m.group(2)
            body = 0
            for after in lines[i + 1 :]:
                text = after.strip().lstrip("#/").strip()
                if not text or text.startswith('"""') or DEFINITION.match(after):
                    break
                body += 1
            found.setdefault(name, []).append((path, body))
    docs = ROOT / "docs" / "notes.md"
    for name in re.findall(r"^## Note \[([^\]]+)\]", docs.read_text(), flags=re.M):
        found.setdefault(name, []).append((docs, 0))
    return found


def _resolve(pointer: str, source: Path) -> Path | None:
    """The file a pointer names: as written from the repository, the package, csrc, docs or
    the pointing file's folder."""
    for base in (ROOT, ROOT / "pyvidfast", ROOT / "csrc", source.parent, ROOT / "docs"):
        candidate = (base / pointer).resolve()
        if candidate.is_file():
            return candidate
    matches = [p for p in _files() if p.as_posix().endswith("/" + pointer)]
    return matches[0] if len(matches) == 1 else None


def test_every_note_used_is_defined():
    defined = _definitions()
    missing = []
    for path in _files():
        for name in re.findall(r"Note \[([^\]]+)\]", _text(path)):
            if name not in defined:
                missing.append(f"{path.relative_to(ROOT)}: Note [{name}]")
    assert sorted(set(missing)) == []


def test_pointers_name_the_file_that_defines_the_note():
    defined = _definitions()
    wrong = []
    for path in _files():
        for name, pointer in POINTER.findall(_text(path)):
            target = _resolve(pointer, path)
            homes = {p.resolve() for p, _ in defined.get(name, [])}
            if target is None or target not in homes:
                wrong.append(f"{path.relative_to(ROOT)}: Note [{name}] in {pointer}")
    assert sorted(set(wrong)) == []


def test_notes_in_code_are_short():
    long_notes = [
        f"Note [{name}] in {path.relative_to(ROOT)}: {body} lines"
        for name, places in _definitions().items()
        for path, body in places
        if body > MAX_NOTE_LINES
    ]
    assert long_notes == []
