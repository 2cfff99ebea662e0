"""Pre-images: the first content per (ticket, path), safe names, undo data that survives."""

from __future__ import annotations

import re

from pathlib import Path

import pytest

from slop_tui.store import PREIMAGES_DIR, Store, StoreError


def test_the_first_pre_image_wins(tmp_path: Path) -> None:
    store = Store(tmp_path)
    name = store.save_preimage("t1", "pkg/mod.py", b"original\n")
    assert name is not None and name.startswith(f"{PREIMAGES_DIR}/")
    assert (store.root / name).read_bytes() == b"original\n"
    # A later save for the same file (after the ticket's first edit) changes nothing.
    assert store.save_preimage("t1", "pkg/mod.py", b"after edit 1\n") == name
    assert store.save_preimage("t1", "./pkg/mod.py", b"after edit 2\n") == name
    assert store.save_preimage("t1", "new.py", None) is None
    assert store.save_preimage("t1", "new.py", b"written by the ticket") is None
    assert Store(tmp_path).preimages("t1") == {"pkg/mod.py": b"original\n", "new.py": None}


def test_tickets_are_kept_apart_and_dropped_one_by_one(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save_preimage("t1", "a.py", b"a1")
    store.save_preimage("t2", "a.py", b"a2")
    assert store.preimages("t1") == {"a.py": b"a1"}
    assert store.preimages("t2") == {"a.py": b"a2"}
    store.drop_preimages("t1")
    assert store.preimages("t1") == {}
    assert store.preimages("t2") == {"a.py": b"a2"}
    store.drop_preimages("t1")  # dropping twice is fine
    assert store.preimages("never") == {}


@pytest.mark.parametrize(
    "ticket_id", ["../../escape", "a/b", "with space", "ünïcødé", "." * 3, "x" * 300, ""]
)
def test_any_ticket_id_and_path_stay_inside_the_preimages_folder(
    tmp_path: Path, ticket_id: str
) -> None:
    store = Store(tmp_path)
    paths = ["deep/er/still/file.txt", "spaces in name.md", "ünïcødé.py", "x" * 200 + ".py"]
    for i, rel in enumerate(paths):
        store.save_preimage(ticket_id, rel, f"content {i}".encode())
    expected = {rel: f"content {i}".encode() for i, rel in enumerate(paths)}
    assert store.preimages(ticket_id) == expected
    base = (store.root / PREIMAGES_DIR).resolve()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and all(base in p.resolve().parents for p in files)
    assert all(len(p.name) < 100 for p in files)


@pytest.mark.parametrize("rel", ["/etc/passwd", "../outside.py", "a/../../b", "", "."])
def test_paths_outside_the_repository_are_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(StoreError, match="is not a path inside the repository"):
        Store(tmp_path).save_preimage("t1", rel, b"x")


def test_a_missing_blob_or_a_corrupt_index_is_a_clear_error(tmp_path: Path) -> None:
    store = Store(tmp_path)
    name = store.save_preimage("t1", "a.py", b"x")
    assert name is not None
    (store.root / name).unlink()
    with pytest.raises(StoreError, match=r"pre-image of 'a.py' for ticket 't1' cannot be read"):
        store.preimages("t1")
    # A corrupt index is kept aside and rebuilt from the log (here: nothing logged).
    index = (store.root / name).parent / "index.json"
    index.write_bytes(b"{")
    assert store.preimages("t1") == {}
    assert re.search(r"index\.json: corrupt pre-image index .*kept as index\.json\.corrupt-", store.warnings[-1])
