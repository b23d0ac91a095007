"""The transfer-learning page's data section in AppTest: an upload with renamed copies and an
image in two classes says so, lists the files, and the run that follows keeps every group on
one side of the split; a zip cut short is called damaged."""

from __future__ import annotations

import pytest
from data_cases import copies_entries, good_entries, make_zip, png, same_groups
from streamlit.testing.v1 import AppTest

from tests.test_transfer_learning_page import KEY, PAGE, tiny_settings, train_until_results


def upload(open_page, data: bytes) -> AppTest:
    at = open_page(PAGE)
    at.radio(key=KEY + "source").set_value("zip").run()
    at.file_uploader(key=KEY + "zip").set_value(("photos.zip", data, "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_duplicates_are_shown_and_kept_on_one_side(open_page) -> None:
    entries, groups, across = copies_entries()
    at = upload(open_page, make_zip(entries))
    notices = [w.value for w in at.warning if "duplicates" in w.value or "two classes" in w.value]
    assert len(notices) == 2
    assert notices[0].startswith("**9 groups of exact duplicates**: 20 images share")
    assert "stays on one side of the train/validation split" in notices[0]
    assert notices[1].startswith("**The same image in two classes**: 1 group (3 images)")
    (listed,) = [e for e in at.expander if "duplicates" in e.label]
    assert listed.label == "9 groups of exact duplicates: the files"
    (frame,) = listed.dataframe
    table = frame.value
    found: dict[int, list[str]] = {}
    for number, file, folder in zip(table["group"], table["file"], table["class"], strict=True):
        found.setdefault(number, []).append(file)
        assert file.split("/")[0] == folder  # the class column is the file's folder
    assert same_groups(list(found.values()), groups)
    flagged = table[table["in two classes"] == "yes"]["file"].tolist()
    assert same_groups([flagged], across)
    # The run: the split keeps each group whole (the oracle: the groups built above).
    tiny_settings(at)
    result = train_until_results(at)
    data = at.session_state[KEY + "dataset"][1]
    val = {data.paths[i] for i in result.val_indices}
    for group in groups:
        assert set(group) <= val or not set(group) & val, group
    assert not set(across[0]) & val


def test_no_duplicates_no_notice(open_page) -> None:
    at = upload(open_page, make_zip(good_entries(("a", "b"), 3)))
    assert not [w for w in at.warning if "duplicates" in w.value or "two classes" in w.value]
    assert not [e for e in at.expander if "duplicates" in e.label]


@pytest.mark.parametrize("keep", [0.5, -1])
def test_a_truncated_zip_is_called_damaged(open_page, keep: float) -> None:
    whole = make_zip(good_entries(("a", "b"), 3))
    at = upload(open_page, whole[: int(len(whole) * keep) if keep > 0 else keep])
    (error,) = at.error
    assert "The archive is damaged: it stops before its end" in error.value
    assert "not a zip" not in error.value
    assert at.button(key=KEY + "train").disabled


def test_a_class_of_one_image_copied_says_why(open_page) -> None:
    entries = {**good_entries(("cat",), 3), "dog/a.png": png(40), "dog/a copy.png": png(40)}
    at = upload(open_page, make_zip(entries))
    (error,) = at.error
    assert "The class 'dog' holds one image only, in 2 copies" in error.value
    assert at.button(key=KEY + "train").disabled
