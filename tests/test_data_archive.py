"""Uploads as a whole: rejected with a clear reason (not a zip, empty, one class, unsafe names,
links, zip bombs, too many files) or read with the junk skipped and listed; never a file
outside the temporary folder."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from data_cases import Sandbox, good_entries, make_zip, png

from cnnviz.data import DatasetLimits, Skipped, Workspace, load_dataset, load_files
from cnnviz.data.archive import Member, unpack
from cnnviz.errors import BadDataset, CnnvizError, DatasetTooLarge

SIZE = 16


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return Sandbox(tmp_path, monkeypatch)


def rejected(box: Sandbox, data: bytes, limits: DatasetLimits | None = None) -> BadDataset:
    """Load the zip (written as a file) and return the BadDataset it raised; nothing left."""
    path = box.write("upload.zip", data)
    box.start()
    with pytest.raises(BadDataset) as caught:
        load_dataset(path, size=SIZE, limits=limits)
    box.check()
    err = caught.value
    assert isinstance(err, CnnvizError) and err.hint and "\n" not in err.one_line()
    return err


def zeros_zip(megabytes: int, declared: int | None = None) -> bytes:
    """A valid two-class dataset plus megabytes of zeros in one entry (a few kB compressed);
    with `declared`, that entry's sizes in both headers are patched to lie."""
    entries = good_entries()
    entries["cat/zeros.png"] = bytes(megabytes << 20)
    data = make_zip(entries)
    if declared is None:
        return data
    real = megabytes << 20
    old = real.to_bytes(4, "little")
    assert data.count(old) == 2  # the local header and the central directory entry
    patched = data.replace(old, declared.to_bytes(4, "little"))
    with zipfile.ZipFile(io.BytesIO(patched)) as archive:  # the lie is what zipfile reads
        assert archive.getinfo("cat/zeros.png").file_size == declared != real
    return patched


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"PK\x03\x04 certainly not a zip archive", "not a zip"),
        (b"", "empty"),
        (make_zip({}), "empty"),
        (make_zip({"cat/": b"", "dog/": b""}), "'cat' has 0 files"),
        (make_zip(good_entries(("cat",), 3)), "only one class folder ('cat')"),
        (make_zip({"a.png": png(), "b.png": png(1)}), "no class folder"),
        (make_zip({**good_entries(("cat",), 2), "dog/1.png": png(7)}), "'dog' has 1 file"),
        (make_zip({**good_entries(), "../x.png": png()}), "outside its folder ('../x.png')"),
        (make_zip({**good_entries(), "../../../x.png": png()}), "outside its folder"),
        (make_zip({**good_entries(), "cat/../../x.png": png()}), "outside its folder"),
        (make_zip({**good_entries(), "/etc/x.png": png()}), "absolute path ('/etc/x.png')"),
        (make_zip({**good_entries(), "C:/x.png": png()}), "drive letter ('C:/x.png')"),
        (make_zip({**good_entries(), "c:x.png": png()}), "drive letter"),
        (make_zip({**good_entries(), "..\\x.png": png()}), "outside its folder"),
    ],
    ids=[
        "not-a-zip",
        "empty-file",
        "empty-zip",
        "empty-classes",
        "one-class",
        "no-class-folder",
        "class-with-one-image",
        "slip-dotdot",
        "slip-deep",
        "slip-inner",
        "absolute",
        "drive-letter",
        "drive-relative",
        "backslash",
    ],
)
def test_rejected_with_the_reason(box: Sandbox, data: bytes, says: str) -> None:
    assert says in str(rejected(box, data))


def test_zip_slip_writes_nothing_even_beside_good_entries(box: Sandbox) -> None:
    # The unsafe entry comes last: every name is checked before a byte is written.
    err = rejected(box, make_zip({**good_entries(), "../../../escaped.png": png()}))
    assert "outside" in str(err)
    assert not list(box.root.rglob("escaped.png"))


def test_symlink_entry_rejected(box: Sandbox) -> None:
    entries = {**good_entries(), "cat/link.png": b"/etc/passwd"}
    err = rejected(box, make_zip(entries, symlinks=("cat/link.png",)))
    assert "symbolic link ('cat/link.png')" in str(err)


def test_zip_bomb_over_the_unpacked_limit(box: Sandbox) -> None:
    data = zeros_zip(8)
    assert len(data) < 100_000  # 8 MB of zeros deflate to a few kB
    err = rejected(box, data, DatasetLimits(total_bytes=1 << 20))
    assert isinstance(err, DatasetTooLarge) and "more than 1.0 MB" in str(err)


def test_zip_bomb_with_lying_sizes(box: Sandbox) -> None:
    # The headers claim 1 kB; the entry inflates to 8 MB. Refused (zipfile stops at the
    # declared size, so the CRC fails) and nothing written survives.
    err = rejected(box, zeros_zip(8, declared=1000), DatasetLimits(total_bytes=1 << 20))
    assert "damaged" in str(err) or isinstance(err, DatasetTooLarge)


def test_inflated_bytes_are_counted_not_declared(tmp_path: Path) -> None:
    # A member that declares 0 bytes and streams 3 MB: the running count stops it.
    members = [
        Member("cat/a.png", "file", lambda: io.BytesIO(png()), 0),
        Member("cat/b.png", "file", lambda: io.BytesIO(bytes(3 << 20)), 0),
    ]
    with pytest.raises(DatasetTooLarge, match="more than"):
        unpack(members, tmp_path, DatasetLimits(total_bytes=1 << 20))
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert written <= (1 << 20) + len(png())  # stopped within one chunk of the limit


def test_too_many_files(box: Sandbox) -> None:
    err = rejected(box, make_zip(good_entries(per_class=3)), DatasetLimits(files=5))
    assert isinstance(err, DatasetTooLarge) and "the limit is 5" in str(err)


def test_archive_over_the_byte_limit(box: Sandbox) -> None:
    err = rejected(box, make_zip(good_entries()), DatasetLimits(archive_bytes=100))
    assert isinstance(err, DatasetTooLarge) and "uploads are limited to" in str(err)


def test_junk_is_skipped_and_listed(box: Sandbox) -> None:
    entries = {
        **good_entries(per_class=3),
        ".DS_Store": b"\0\0\0\1Bud1",
        "cat/.hidden.png": png(3),
        ".git/objects/ab": b"x",
        ".git/HEAD": b"ref",
        "__MACOSX/cat/._0.png": b"\0\5\26\7",
        "__MACOSX/dog/._0.png": b"\0\5\26\7",
        "dog/notes.png": b"just some text, named like an image",
        "readme.txt": b"the dataset",
    }
    path = box.write("upload.zip", make_zip(entries))
    box.start()
    dataset = load_dataset(path, size=SIZE)
    box.check()
    assert dataset.counts() == {"cat": 3, "dog": 3}
    assert dataset.skipped == [
        Skipped(".DS_Store", "hidden file"),
        Skipped(".git/", "hidden folder"),
        Skipped("__MACOSX/", "macOS metadata (__MACOSX)"),
        Skipped("cat/.hidden.png", "hidden file"),
        Skipped("dog/notes.png", "not an image (JPEG, PNG, BMP, WEBP, GIF or TIFF)"),
        Skipped("readme.txt", "outside the class folders"),
    ]


def test_one_top_folder_holding_the_classes(box: Sandbox) -> None:
    entries = {f"photos/{k}": v for k, v in good_entries(("a", "b", "c")).items()}
    entries["photos/LICENSE"] = b"CC-BY"
    path = box.write("upload.zip", make_zip(entries))
    box.start()
    dataset = load_dataset(path, size=SIZE)
    box.check()
    assert dataset.classes == ["a", "b", "c"] and len(dataset) == 6
    assert dataset.skipped == [Skipped("photos/LICENSE", "outside the class folders")]
    assert dataset.paths[0] == "photos/a/0.png"


def test_bytes_and_file_objects_and_a_kept_workspace(box: Sandbox) -> None:
    data = make_zip(good_entries())
    box.start()
    with Workspace() as space:
        assert space.path.parent == box.temp and space.path.name.startswith("cnnviz-")
        first = load_dataset(data, size=SIZE, workspace=space)
        second = load_dataset(io.BytesIO(data), size=SIZE, workspace=space)
        # The unpacked files are gone once decoded; the session's folder stays until closed.
        assert space.path.is_dir() and not any(space.path.iterdir())
    box.check()
    assert first.images.equal(second.images) and first.labels.equal(second.labels)


def test_uploaded_files_of_a_folder(box: Sandbox) -> None:
    files = [(name, data) for name, data in good_entries().items()]
    box.start()
    assert load_files(files, size=SIZE).counts() == {"cat": 2, "dog": 2}
    with pytest.raises(BadDataset, match="outside its folder"):
        load_files([*files, ("../x.png", png())], size=SIZE)
    box.check()


# --- Folders read in place -----------------------------------------------------------------


def folder(box: Sandbox, entries: dict[str, bytes]) -> Path:
    for name, data in entries.items():
        box.write(f"data/{name}", data)
    return box.inputs / "data"


def test_folder_like_the_zip(box: Sandbox) -> None:
    root = folder(box, {**good_entries(), ".DS_Store": b"x", "dog/.thumbs/a.png": png()})
    zipped = box.write("data.zip", make_zip(good_entries()))
    box.start()
    from_folder, from_zip = load_dataset(root, size=SIZE), load_dataset(zipped, size=SIZE)
    box.check()
    assert from_folder.images.equal(from_zip.images)
    assert from_folder.skipped == [
        Skipped(".DS_Store", "hidden file"),
        Skipped("dog/.thumbs/", "hidden folder"),
    ]


@pytest.mark.parametrize("target", ["file", "folder"])
def test_folder_with_a_symlink_rejected(box: Sandbox, target: str) -> None:
    root = folder(box, good_entries())
    if target == "file":
        os.symlink(box.inputs / "data" / "cat" / "0.png", root / "dog" / "link.png")
    else:
        os.symlink(root / "cat", root / "linked")
    box.start()
    with pytest.raises(BadDataset, match="symbolic link"):
        load_dataset(root, size=SIZE)
    box.check()


def test_folder_limits(box: Sandbox) -> None:
    root = folder(box, good_entries(per_class=3))
    box.start()
    with pytest.raises(DatasetTooLarge, match="limit is 5"):
        load_dataset(root, size=SIZE, limits=DatasetLimits(files=5))
    with pytest.raises(DatasetTooLarge, match="more than"):
        load_dataset(root, size=SIZE, limits=DatasetLimits(total_bytes=1000))
    box.check()


def test_progress_counts_every_file(box: Sandbox) -> None:
    entries = {**good_entries(), "dog/broken.png": b"no image"}
    calls: list[tuple[int, int]] = []
    box.start()
    dataset = load_dataset(make_zip(entries), size=SIZE, progress=lambda *c: calls.append(c))
    box.check()
    assert len(dataset) == 4 and calls == [(i, 5) for i in range(6)]


@pytest.mark.parametrize("keep", [30, 0.5, 0.9, -1])
def test_a_truncated_zip_is_damaged_not_another_kind_of_file(box: Sandbox, keep: float) -> None:
    """A real zip cut short (an interrupted upload or download): its first entry's header is
    there, its end record is not."""
    whole = make_zip(good_entries(("cat", "dog"), 3))
    cut = whole[:keep] if isinstance(keep, int) else whole[: int(len(whole) * keep)]
    assert len(cut) < len(whole)
    with zipfile.ZipFile(io.BytesIO(whole)) as archive:  # what was cut was a working zip
        assert archive.testzip() is None
    err = rejected(box, cut)
    assert str(err).startswith("The archive is damaged: it stops before its end")
    assert "not a zip" not in str(err) and "upload the whole file" in err.hint


def test_a_class_of_one_image_copied_is_refused(box: Sandbox) -> None:
    """The split could not validate it without a twin in training (nor train it without)."""
    copies = {f"dog/{i}.png": png(9) for i in range(3)}
    err = rejected(box, make_zip({**good_entries(("cat",), 3), **copies}))
    assert str(err).startswith("The class 'dog' holds one image only, in 3 copies")
    assert "Add other images of 'dog'" in err.hint


def test_a_class_whose_images_are_all_in_another_class_is_refused(box: Sandbox) -> None:
    cats = good_entries(("cat",), 3)
    slips = {"dog/a.png": cats["cat/0.png"], "dog/b.png": cats["cat/1.png"]}
    foxes = {f"fox/{i}.png": png(50 + i) for i in range(2)}
    err = rejected(box, make_zip({**cats, **slips, **foxes}))
    assert str(err).startswith("Every image of the class 'dog' is also in another class folder")
    assert "('cat')" in str(err) and "'fox'" not in str(err)


def test_a_class_with_one_image_of_its_own_is_kept(box: Sandbox) -> None:
    """One image of its own besides its copies from another class: it validates that one."""
    cats = good_entries(("cat",), 3)
    entries = {**cats, "dog/a.png": cats["cat/0.png"], "dog/own.png": png(99)}
    path = box.write("upload.zip", make_zip(entries))
    data = load_dataset(path, size=SIZE)
    assert data.counts() == {"cat": 3, "dog": 2}
    assert [[data.paths[i] for i in g] for g in data.across_classes()] == [
        ["cat/0.png", "dog/a.png"]
    ]
