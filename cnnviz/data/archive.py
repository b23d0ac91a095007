"""Reading an upload safely: a zip (or uploaded files) unpacked into the session's workspace,
or a folder read in place, listed as an ImageFolder (one folder per class).

Rejected as a whole (BadDataset): not a zip, a damaged (e.g. truncated) zip, empty, unsafe
names (`..`, absolute paths, drive letters), symbolic links, over the teacher's limits
(DatasetTooLarge). Skipped and listed: hidden files and folders, `__MACOSX`, files outside the
class folders. The unpacked size is the count of bytes actually inflated, chunk by chunk: the
sizes a zip declares are never trusted.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cnnviz.data.dataset import DatasetLimits, Skipped
from cnnviz.errors import BadDataset, DatasetTooLarge
from cnnviz.notation import megabytes

CHUNK = 1 << 20  # inflate 1 MiB at a time: a zip bomb is stopped within 1 MiB of the limit
HIDDEN = "hidden file"
HIDDEN_FOLDER = "hidden folder"
MACOS = "macOS metadata (__MACOSX)"
OUTSIDE = "outside the class folders"
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Member:
    """One entry of an upload: its name (as the archive spells it) and how to read it."""

    name: str
    kind: str  # "file", "dir" or "link"
    open: Callable[[], BinaryIO]
    declared: int = 0  # the size the archive claims (only for an early, honest refusal)


@dataclass
class Listing:
    """An ImageFolder: class names in order, each class's files (path in the upload, file)."""

    classes: dict[str, list[tuple[str, Path]]]
    skipped: list[Skipped]


# --- Names ---------------------------------------------------------------------------------


def name_parts(name: str) -> list[str]:
    """The parts of a member name, BadDataset if it could land outside the folder."""
    path = name.replace("\\", "/")  # some Windows tools write backslashes
    if path.startswith("/"):
        raise BadDataset(
            f"The archive holds an entry with an absolute path ({name!r}).", _UNSAFE_HINT
        )
    if _DRIVE.match(path):
        raise BadDataset(
            f"The archive holds an entry with a drive letter ({name!r}).", _UNSAFE_HINT
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadDataset(
            f"The archive holds an entry that points outside its folder ({name!r}).",
            _UNSAFE_HINT,
        )
    return parts


_UNSAFE_HINT = "Make the zip again from the dataset's folder (e.g. zip -r data.zip data)."


def hidden_reason(part: str, last: bool) -> str | None:
    """Why a path part is skipped: macOS metadata, a hidden file or folder; None if it is not."""
    if part == "__MACOSX":
        return MACOS
    if part.startswith("."):
        return HIDDEN if last else HIDDEN_FOLDER
    return None


def _hidden(parts: list[str]) -> Skipped | None:
    """The skipped entry for the first hidden part of a path (a folder ends with '/')."""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        reason = hidden_reason(part, last)
        if reason:
            return Skipped("/".join(parts[: i + 1]) + ("" if last else "/"), reason)
    return None


# --- Unpacking -----------------------------------------------------------------------------


def _too_many_files(count: int, limits: DatasetLimits) -> DatasetTooLarge:
    return DatasetTooLarge(
        f"The dataset holds {count:,} files or more: the limit is {limits.files:,}."
    )


def _too_many_bytes(limits: DatasetLimits) -> DatasetTooLarge:
    return DatasetTooLarge(
        f"The dataset unpacks to more than {megabytes(limits.total_bytes)}: that is the limit."
    )


def unpack(members: Iterable[Member], dest: Path, limits: DatasetLimits) -> list[Skipped]:
    """Write the members under dest, after checking every name; the skipped ones, listed.

    Names, links and counts are checked for all members before a byte is written.
    """
    members = list(members)
    if not members:
        raise BadDataset("The archive is empty.")
    plan: list[tuple[Member, list[str]]] = []
    skipped: dict[str, Skipped] = {}
    files = declared = 0
    for member in members:
        parts = name_parts(member.name)
        if member.kind == "link":
            raise BadDataset(
                f"The archive holds a symbolic link ({member.name!r}): links are refused.",
                "Zip the files themselves (zip without --symlinks).",
            )
        if member.kind == "file":
            files += 1
            if files > limits.files:
                raise _too_many_files(files, limits)
        if not parts:
            continue
        hidden = _hidden(parts)
        if hidden:
            skipped.setdefault(hidden.path, hidden)
            continue
        declared += member.declared
        plan.append((member, parts))
    if declared > limits.total_bytes:  # an honest archive that says it is too large
        raise _too_many_bytes(limits)
    root = dest.resolve()
    inflated = 0
    for member, parts in plan:
        target = root.joinpath(*parts)
        if not target.resolve().is_relative_to(root):  # belt and braces: name_parts checked
            raise BadDataset(f"The entry {member.name!r} points outside its folder.", _UNSAFE_HINT)
        try:
            if member.kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            inflated = _copy(member, target, inflated, limits)
        except FileExistsError:
            skipped.setdefault(member.name, Skipped(member.name, "a second entry of that name"))
        except OSError as err:  # a name the file system refuses (too long, a file as folder)
            reason = f"cannot be unpacked ({err.strerror or err})"
            skipped.setdefault(member.name, Skipped(member.name, reason))
    return sorted(skipped.values(), key=lambda s: s.path)


def _copy(member: Member, target: Path, inflated: int, limits: DatasetLimits) -> int:
    """Copy one member in chunks, counting what is actually read; the new running total."""
    with member.open() as src, open(target, "xb") as out:
        while chunk := src.read(CHUNK):
            inflated += len(chunk)
            if inflated > limits.total_bytes:
                raise _too_many_bytes(limits)
            out.write(chunk)
    return inflated


def _size(source: BinaryIO) -> int:
    here = source.tell()
    end = source.seek(0, io.SEEK_END)
    source.seek(here)
    return end


# A zip's first entry: signature, version needed, flags, compression method (then 20 bytes).
_LOCAL = struct.Struct("<4sHHH20x")
# Compression methods: stored, deflate, deflate64, bzip2, lzma, zstd, xz, ppmd, aes.
_METHODS = frozenset((0, 8, 9, 12, 14, 93, 95, 98, 99))


def _starts_like_a_zip(source: BinaryIO) -> bool:
    """Whether the file starts with a plausible zip entry header (optionally after a split
    archive's marker): a file that does, yet has no end record, is a zip that was cut short."""
    source.seek(0)
    head = source.read(4 + _LOCAL.size)
    source.seek(0)
    if head.startswith(b"PK\x07\x08"):
        head = head[4:]
    if len(head) < _LOCAL.size:
        return False
    signature, version, _, method = _LOCAL.unpack_from(head)
    return signature == b"PK\x03\x04" and version & 0xFF <= 63 and method in _METHODS


def _zip_entry_count(source: BinaryIO) -> int | None:
    """The entry count from the end record, read before zipfile parses the directory (a
    million tiny entries would otherwise cost gigabytes of ZipInfo objects first)."""
    try:
        record = zipfile._EndRecData(source)  # type: ignore[attr-defined]
    except (OSError, AttributeError):
        return None
    finally:
        source.seek(0)
    return int(record[zipfile._ECD_ENTRIES_TOTAL]) if record else None  # type: ignore[attr-defined]


def _zip_members(archive: zipfile.ZipFile) -> Iterator[Member]:
    for info in archive.infolist():
        mode = info.external_attr >> 16
        kind = "link" if stat.S_ISLNK(mode) else "dir" if info.is_dir() else "file"
        yield Member(info.filename, kind, lambda info=info: archive.open(info), info.file_size)


def extract_zip(source: BinaryIO, dest: Path, limits: DatasetLimits) -> list[Skipped]:
    """Unpack a zip (a binary file object) under dest; the skipped entries, listed."""
    size = _size(source)
    if size > limits.archive_bytes:
        raise DatasetTooLarge(
            f"The archive is {megabytes(size)}: uploads are limited to "
            f"{megabytes(limits.archive_bytes)}."
        )
    if size == 0:
        raise BadDataset("The file is empty.")
    if not zipfile.is_zipfile(source):
        if _starts_like_a_zip(source):  # a zip's first entry, and no end: cut short
            raise BadDataset(
                "The archive is damaged: it stops before its end (the zip's list of files is "
                "missing), as when an upload or a download is cut short.",
                "Download or make the zip again, then upload the whole file.",
            )
        raise BadDataset("This file is not a zip archive.")
    source.seek(0)
    entries = _zip_entry_count(source)
    if entries is not None and entries > limits.files:
        raise _too_many_files(entries, limits)
    try:
        with zipfile.ZipFile(source) as archive:
            return unpack(_zip_members(archive), dest, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise BadDataset(
            f"The archive is damaged or uses a compression this server cannot read ({err}).",
            "Make the zip again with a standard zip tool (Deflate compression).",
        ) from None
    except RuntimeError as err:  # zipfile: "File ... is encrypted, password required"
        raise BadDataset(
            f"The archive is password-protected ({err}).", "Upload a zip without a password."
        ) from None


def unpack_files(
    files: Iterable[tuple[str, bytes]], dest: Path, limits: DatasetLimits
) -> list[Skipped]:
    """Uploaded files (relative name, bytes), e.g. a whole-folder upload, written under dest
    with the same checks as a zip's entries."""
    members = [
        Member(name, "file", lambda data=data: io.BytesIO(data), len(data)) for name, data in files
    ]
    return unpack(members, dest, limits)


# --- Listing a folder ----------------------------------------------------------------------


def _walk(
    root: Path, limits: DatasetLimits
) -> tuple[list[tuple[str, Path]], list[str], list[Skipped]]:
    """Every visible file (path in the upload, file) and folder under root, and the skipped.

    Symbolic links are refused (os.scandir's is_symlink, as os.path.islink); hidden folders
    are not entered.
    """
    files: list[tuple[str, Path]] = []
    folders: list[str] = []
    skipped: list[Skipped] = []
    total = 0
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + entry.name
                if entry.is_symlink():
                    raise BadDataset(
                        f"The dataset holds a symbolic link ({rel!r}): links are refused.",
                        "Copy the files themselves into the class folders.",
                    )
                is_dir = entry.is_dir(follow_symlinks=False)
                reason = hidden_reason(entry.name, last=not is_dir)
                if reason:
                    skipped.append(Skipped(rel + ("/" if is_dir else ""), reason))
                elif is_dir:
                    folders.append(rel)
                    stack.append((Path(entry.path), rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.append((rel, Path(entry.path)))
                    if len(files) > limits.files:
                        raise _too_many_files(len(files), limits)
                    total += entry.stat(follow_symlinks=False).st_size
                    if total > limits.total_bytes:
                        raise _too_many_bytes(limits)
                else:
                    skipped.append(Skipped(rel, "not a regular file"))
    return files, folders, skipped


def _class_root(folders: list[str]) -> str:
    """'' when the top folders are the classes; 'name/' when the only top folder holds them."""
    top = [f for f in folders if "/" not in f]
    if len(top) == 1 and any(f.startswith(top[0] + "/") for f in folders):
        return top[0] + "/"
    return ""


def list_folder(root: Path, limits: DatasetLimits) -> Listing:
    """The ImageFolder under root: one folder per class (files in sub-folders count too)."""
    if not root.is_dir():
        raise BadDataset(f"{root} is not a folder.", "Give a .zip file or a folder.")
    if root.is_symlink():
        raise BadDataset(f"{root} is a symbolic link: links are refused.", "Give the folder.")
    files, folders, skipped = _walk(root, limits)
    base = _class_root(folders)
    names = [f[len(base) :] for f in sorted(folders) if f.startswith(base)]
    classes: dict[str, list[tuple[str, Path]]] = {n: [] for n in names if "/" not in n}
    for rel, path in sorted(files):
        parts = rel[len(base) :].split("/") if rel.startswith(base) else []
        if len(parts) < 2:  # a file beside the class folders, not inside one
            skipped.append(Skipped(rel, OUTSIDE))
            continue
        classes[parts[0]].append((rel, path))
    return Listing(classes, sorted(skipped, key=lambda s: s.path))
