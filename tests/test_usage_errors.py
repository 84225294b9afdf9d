"""Usage errors name the actual problem in one line and exit 2, before any work (issue 26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyvidfast.cli import main


@pytest.fixture
def where(tmp_path: Path) -> Path:
    (tmp_path / "folder").mkdir()
    (tmp_path / "table.csv").write_text("path,text\n")
    (tmp_path / "list.txt").write_text(str(tmp_path / "never_read.mp4") + "\n")
    return tmp_path


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err  # one line
    return code, captured.err.rstrip("\n")


def test_report_of_a_folder_says_it_is_a_folder(where: Path, capsys):
    code, err = _run(["report", str(where / "folder")], capsys)
    assert code == 2
    assert err.startswith(f"report: {str(where / 'folder')!r} is a folder; report reads one table")
    assert "no such table" not in err


def test_missing_table_has_one_prefix(where: Path, capsys):
    code, err = _run(["report", str(where / "missing.csv")], capsys)
    assert (code, err) == (2, f"report: no such table {str(where / 'missing.csv')!r}")
    code, err = _run(["bench", str(where / "missing.csv"), "-o", str(where / "b")], capsys)
    assert (code, err) == (2, f"bench: no such table {str(where / 'missing.csv')!r}")


def test_prepare_of_a_folder_says_what_it_expects(where: Path, capsys):
    folder = str(where / "folder")
    code, err = _run(["prepare", folder, "--no-progress"], capsys)
    assert code == 2
    assert err == (
        f"prepare: cannot read {folder}: {folder!r} is a folder; the inputs are CSV/Parquet "
        f"tables with a 'path' column: give the files, or a glob such as {folder + '/*.csv'!r}"
    )


def test_check_output_under_a_file_is_not_a_directory(where: Path, capsys):
    listing = str(where / "list.txt")
    code, err = _run(["check", listing, "-o", str(where / "table.csv" / "out.csv")], capsys)
    assert (code, err) == (2, f"check: cannot write to {where / 'table.csv'}: Not a directory")
    deeper = where / "table.csv" / "sub" / "out.csv"
    code, err = _run(["check", listing, "-o", str(deeper)], capsys)
    assert code == 2 and err == (
        f"check: cannot write to {deeper.parent}: Not a directory ({where / 'table.csv'} is a file)"
    )


def test_check_output_that_is_a_folder_is_a_usage_error(where: Path, capsys):
    folder = str(where / "folder")
    code, err = _run(["check", str(where / "list.txt"), "-o", folder, "--no-progress"], capsys)
    assert (code, err) == (
        2,
        f"check: cannot write {folder}: Is a directory (give a file name for the output)",
    )
    assert list((where / "folder").iterdir()) == []  # nothing was checked or written
