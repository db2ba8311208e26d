"""The folder segmenter on real PicsArt selfies: same masks as photo by photo, resumes, reports, survives a full disk."""

from __future__ import annotations

import csv
import errno
import json
import shutil

import numpy as np
import pytest

from selfieseg.batch import DiskFullError, OutputFolderError, segment_folder
from selfieseg.io import read_image, read_mask

BATCH = 8


@pytest.fixture(scope="module")
def segmenter():
    from selfieseg.inference import Segmenter

    return Segmenter("sinet")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    """40 real selfies: 30 at the top, 10 in ``sub/`` under the names of top-level ones
    (different photos, same stems), and one truncated JPEG."""
    train = sorted((data_root / "picsart" / "train").glob("*.jpg"))[:40]
    root = tmp_path_factory.mktemp("batch") / "photos"
    (root / "sub").mkdir(parents=True)
    for photo in train[:30]:
        shutil.copy(photo, root / photo.name)
    for photo, twin in zip(train[30:], train[:10]):
        shutil.copy(photo, root / "sub" / twin.name)
    (root / "broken.jpg").write_bytes(train[0].read_bytes()[:2000])
    return root


def photos_of(root):
    return sorted(p for p in root.rglob("*.jpg") if p.name != "broken.jpg")


def mask_of(out, root, photo):
    return out / photo.parent.relative_to(root) / f"{photo.stem}_mask.png"


def failed_rows(out):
    with open(out / "failed.tsv", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))[1:]


@pytest.fixture(scope="module")
def first_run(folder, segmenter, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_out") / "masks"
    return out, segment_folder(folder, out, model=segmenter, batch_size=BATCH, progress=False)


def test_masks_equal_the_single_photo_path_and_the_broken_photo_is_reported(folder, segmenter, first_run):
    out, run = first_run
    photos = photos_of(folder)
    assert len(photos) == 40 and run.seen == 41 and run.processed == 40 and run.complete
    assert run.model_calls == -(-40 // BATCH)  # one model call per batch
    exact = 0
    for photo in photos:
        written = read_mask(mask_of(out, folder, photo)).astype(int)
        expected = (segmenter.predict(photo) * 255 + 0.5).astype(np.uint8).astype(int)
        assert written.shape == expected.shape
        assert np.abs(written - expected).max() <= 1, photo  # batched round-off: at most one grey level
        exact += np.array_equal(written, expected)
        cutout = out / photo.parent.relative_to(folder) / f"{photo.stem}_cutout.png"
        assert read_image(cutout).shape == read_image(photo).shape
    assert exact >= 30  # nearly all bit-identical
    # equal stems in different subfolders stay apart
    top, sub = mask_of(out, folder, folder / photos[0].name), out / "sub" / f"{photos[0].stem}_mask.png"
    assert top.exists() and sub.exists() and not np.array_equal(read_mask(top), read_mask(sub))
    rows = failed_rows(out)
    assert [row[0] for row in rows] == [str(folder / "broken.jpg")] and "truncated" in rows[0][1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processed"] == 40 and summary["failed"] == 1 and summary["complete"]
    assert not list(folder.rglob("*.png"))  # nothing written among the inputs


def test_a_second_run_redoes_nothing(folder, segmenter, first_run):
    out, _ = first_run
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*.png")}
    again = segment_folder(folder, out, model=segmenter, batch_size=BATCH, progress=False)
    assert again.model_calls == 0 and again.processed == 0 and again.skipped == 40
    assert list(again.failed) == [str(folder / "broken.jpg")]  # tried again, still reported
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.png")} == stamps


def test_an_output_folder_inside_the_input_is_refused(folder, segmenter):
    for out in (folder / "masks", folder, folder / "sub" / "deeper"):
        with pytest.raises(OutputFolderError, match="inside the input folder"):
            segment_folder(folder, out, model=segmenter, progress=False)
    assert not (folder / "masks").exists() and not (folder / "sub" / "deeper").exists()


def test_a_full_disk_leaves_no_half_written_mask_and_the_run_resumes(folder, segmenter, first_run, tmp_path,
                                                                     monkeypatch):
    import selfieseg.batch as batch
    from selfieseg.io import atomic_path, write_image

    calls = {"n": 0, "failed": None}

    def filling_disk(path, array, inputs=()):
        calls["n"] += 1
        if calls["n"] == 25 and calls["failed"] is None:  # mid-run, once: half the bytes land, then ENOSPC
            calls["failed"] = path
            with atomic_path(path, inputs) as tmp:
                tmp.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
                raise OSError(errno.ENOSPC, "No space left on device")
        return write_image(path, array, inputs)

    out = tmp_path / "masks"
    monkeypatch.setattr(batch, "write_image", filling_disk)
    with pytest.raises(DiskFullError, match="run the same command again"):
        segment_folder(folder, out, model=segmenter, batch_size=BATCH, progress=False)
    assert calls["failed"] is not None and not calls["failed"].exists()
    assert not [p for p in out.rglob(".*")]  # no temporary file left behind
    partial = sorted(out.rglob("*.png"))
    assert 0 < len(partial) < 80
    for path in partial:  # every file present decodes
        read_image(path)
    summary = json.loads((out / "summary.json").read_text())
    assert not summary["complete"] and "disk full" in summary["stopped"]

    monkeypatch.setattr(batch, "write_image", write_image)
    resumed = segment_folder(folder, out, model=segmenter, batch_size=BATCH, progress=False)
    assert resumed.complete and resumed.skipped + resumed.processed == 40 and resumed.skipped >= summary["processed"]
    assert resumed.processed < 40
    reference, _ = first_run
    for photo in photos_of(folder):  # other batches, other round-off: within one grey level of the full run
        resumed_mask, full_mask = (read_mask(mask_of(o, folder, photo)).astype(int) for o in (out, reference))
        assert np.abs(resumed_mask - full_mask).max() <= 1, photo


def test_process_photos_uses_it_for_folders(folder, segmenter, tmp_path):
    from selfieseg.photos import process_photos

    small = tmp_path / "few"
    (small / "sub").mkdir(parents=True)
    for photo in photos_of(folder)[:3]:
        shutil.copy(photo, small / photo.name)
    shutil.copy(folder / "broken.jpg", small / "sub" / "broken.jpg")
    result = process_photos(small, tmp_path / "out", action="grey", model=segmenter, progress=False)
    assert len(result["written"]) == 3 and all(path.name.endswith("_grey.jpg") for path in result["written"])
    assert list(result["failed"]) == [str(small / "sub" / "broken.jpg")]
    assert process_photos(small, tmp_path / "out", action="grey", model=segmenter, progress=False)["skipped"] == 3


def test_two_photos_with_one_stem_in_one_folder_are_not_merged(tmp_path, data_root, segmenter):
    """a.jpg beside a.png would both write a_mask.png: the second is reported, not silently skipped."""
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    source = sorted((data_root / "picsart" / "train").glob("*.jpg"))[:2]
    shutil.copy(source[0], photos / "a.jpg")
    Image.open(source[1]).save(photos / "a.png")
    run = segment_folder(photos, tmp_path / "out", model=segmenter, progress=False)
    assert run.processed == 1 and len(run.failed) == 1
    ((path, reason),) = run.failed.items()
    assert "same name stem" in reason and path.endswith(("a.jpg", "a.png"))
    assert [row[0] for row in failed_rows(tmp_path / "out")] == [path]


def test_mirror_in_a_folder_run_equals_the_mirrored_single_photo_path(folder, segmenter, tmp_path):
    from selfieseg.inference import open_segmenter

    photos = photos_of(folder)[:6]
    source = tmp_path / "six"
    source.mkdir()
    for photo in photos:
        shutil.copy(photo, source / photo.name)
    run = segment_folder(source, tmp_path / "out", model=segmenter, batch_size=4, progress=False, mirror=True)
    assert run.processed == 6 and run.model_calls == 2  # the mirrored photos ride in the same calls
    assert not segmenter.mirror  # the segmenter passed in is not changed
    mirrored = open_segmenter(segmenter, mirror=True)
    for photo in photos:
        written = read_mask(tmp_path / "out" / f"{photo.stem}_mask.png").astype(int)
        expected = (mirrored.predict(photo) * 255 + 0.5).astype(np.uint8).astype(int)
        plain = (segmenter.predict(photo) * 255 + 0.5).astype(np.uint8).astype(int)
        assert np.abs(written - expected).max() <= 1, photo
        assert np.abs(written - plain).max() > 1  # it did mirror
