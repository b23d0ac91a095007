"""`python -m cnnviz check-dataset PATH [--json]`: the JSON contract, exit 0 on a usable
dataset, exit 2 with one line (never a traceback) on a bad one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from data_cases import Sandbox, copies_entries, good_entries, make_zip, png, same_groups

import cnnviz.data  # noqa: F401  (importing torchvision makes torchinductor_root in tempfile's
from cnnviz.cli import main  # folder: done here, before a Sandbox moves that folder)

ROOT = Path(__file__).resolve().parents[1]
GOOD = make_zip(good_entries(("cat", "dog"), 3))  # a real zip, to cut short


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return Sandbox(tmp_path, monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check-dataset", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    entries = {**good_entries(("猫", "dog"), 3), "__MACOSX/x": b"", "dog/a.txt": b"text"}
    path = box.write("data.zip", make_zip(entries))
    box.start()
    code, out, _ = run(capsys, str(path), "--json")
    box.check()
    assert code == 0
    assert json.loads(out) == {
        "classes": {"dog": 3, "猫": 3},
        "skipped": [
            {"path": "__MACOSX/", "reason": "macOS metadata (__MACOSX)"},
            {"path": "dog/a.txt", "reason": "not an image (JPEG, PNG, BMP, WEBP, GIF or TIFF)"},
        ],
        "duplicates": [],
        "duplicates_across_classes": [],
    }


def test_folder_and_text_summary(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in good_entries(("a", "b"), 2).items():
        box.write(f"data/{name}", data)
    box.write("data/.DS_Store", b"x")
    box.start()
    code, out, _ = run(capsys, str(box.inputs / "data"))
    box.check()
    assert code == 0
    assert out.splitlines()[0] == "4 images in 2 classes"
    assert ".DS_Store: hidden file" in out


def test_builtin_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lfw", "--json")
    assert code == 0 and json.loads(out) == {
        "classes": {"face": 100, "not face": 100},
        "skipped": [],
        "duplicates": [],
        "duplicates_across_classes": [],
    }


def test_renamed_copies_are_listed(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    entries, groups, across = copies_entries()
    path = box.write("data.zip", make_zip(entries))
    box.start()
    code, out, _ = run(capsys, str(path), "--json")
    box.check()
    assert code == 0
    doc = json.loads(out)
    assert doc["classes"] == {"cat": 13, "dog": 12, "fox": 11} and doc["skipped"] == []
    assert all(isinstance(p, str) for g in doc["duplicates"] for p in g)
    assert same_groups(doc["duplicates"], groups)  # the BMP too; the edited photo not
    assert same_groups(doc["duplicates_across_classes"], across)
    code, out, _ = run(capsys, str(path))
    lines = out.splitlines()
    assert code == 0 and "exact duplicates (same pixels): 9 groups, 20 images" in out
    assert "  cat/IMG_00 (copy).png = cat/IMG_00.bmp = cat/IMG_00.png" in lines
    assert "the same image in two classes (a labeling slip?): 1 group" in out
    assert lines[-1] == "  cat/IMG_01 (copy).png = cat/IMG_01.png = dog/from cat.png"


def test_no_duplicates_no_lines(box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    path = box.write("data.zip", make_zip(good_entries(("a", "b"), 3)))
    code, out, _ = run(capsys, str(path))
    assert code == 0 and "duplicate" not in out and "two classes" not in out


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not a zip", "This file is not a zip archive"),
        (make_zip(good_entries(("cat",), 3)), "only one class folder"),
        (make_zip({**good_entries(), "../x.png": b""}), "outside its folder"),
        (GOOD[: len(GOOD) // 2], "The archive is damaged: it stops before its end"),
        (GOOD[:-1], "The archive is damaged: it stops before its end"),
        (
            make_zip({**good_entries(("cat",), 2), "dog/1.png": png(7), "dog/2.png": png(7)}),
            "The class 'dog' holds one image only, in 2 copies",
        ),
    ],
    ids=["not-a-zip", "one-class", "unsafe", "truncated-half", "truncated-last-byte", "copies"],
)
def test_bad_input_exits_2_with_one_line(
    box: Sandbox, capsys: pytest.CaptureFixture[str], data: bytes, says: str
) -> None:
    path = box.write("bad.zip", data)
    box.start()
    code, out, err = run(capsys, str(path), "--json")
    box.check()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and says in err and err.count("\n") == 1


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nowhere.zip"))
    assert code == 2 and "no file or folder" in err


@pytest.mark.e2e  # a real process of its own
def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(make_zip(good_entries(("cat",), 2)) + b"trailing")
    done = subprocess.run(
        [sys.executable, "-m", "cnnviz", "check-dataset", str(bad), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "only one class folder" in done.stderr
    # The workspace is gone. (torchvision's import makes torchinductor_root, not cnnviz.)
    left = {p.name for p in tmp_path.iterdir()} - {"torchinductor_root"}
    assert left == {"bad.zip"}
