"""selfieseg.scale: a folder on a local Ray (2 CPUs, started here) over 200 real photos,
against the single-process folder run on the same exported LiteRT model."""

from __future__ import annotations

import os
import shutil
import socket

import numpy as np
import pytest

from selfieseg.errors import ClusterError, OutputFolderError

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'selfieseg[scale]')")

pytestmark = pytest.mark.slow

PHOTOS = 200


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, data_root):
    """200 real PicsArt selfies (150 at the top, 50 in a subfolder) and one truncated JPEG."""
    folder = tmp_path_factory.mktemp("scale") / "photos"
    (folder / "more").mkdir(parents=True)
    names = sorted(os.listdir(data_root / "picsart" / "train"))[:PHOTOS]
    for k, name in enumerate(names):
        shutil.copy(data_root / "picsart" / "train" / name, folder / ("more" if k >= 150 else "") / name)
    (folder / "truncated.jpg").write_bytes((data_root / "picsart" / "train" / names[0]).read_bytes()[:1500])
    return folder


@pytest.fixture(scope="module")
def sinet_tflite(tmp_path_factory):
    from selfieseg.export import export

    return export("sinet", tmp_path_factory.mktemp("model") / "sinet.tflite")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module, bounded to 2 CPUs; the runs below join it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _masks(out):
    return {path.relative_to(out): path for path in sorted(out.rglob("*_mask.png"))}


def test_ray_writes_the_single_process_masks_resumes_and_reports_the_corrupt_file(
        tmp_path, photo_folder, sinet_tflite, local_ray):
    from selfieseg.batch import segment_folder
    from selfieseg.io import read_image
    from selfieseg.scale import segment_folder_ray

    single = segment_folder(photo_folder, tmp_path / "single", model=sinet_tflite, progress=False)
    assert single.processed == PHOTOS and len(single.failed) == 1

    out = tmp_path / "ray"
    run = segment_folder_ray(photo_folder, out, model=sinet_tflite, workers=2, batch_size=16, progress=False)
    assert (run.seen, run.processed, run.skipped) == (PHOTOS + 1, PHOTOS, 0)
    # the corrupt photo is reported with its path, and did not stop the other 200
    assert list(run.failed) == [str(photo_folder / "truncated.jpg")]
    table = (out / "failed.tsv").read_text().splitlines()
    assert table[0] == "path\treason" and table[1].startswith(str(photo_folder / "truncated.jpg") + "\t")
    assert "truncated" in table[1]

    ours, theirs = _masks(out), _masks(tmp_path / "single")
    assert len(ours) == PHOTOS and ours.keys() == theirs.keys()
    assert any(str(name).startswith("more/") for name in ours)  # subfolders mirrored
    worst = max(int(np.abs(read_image(ours[name]).astype(int) - read_image(theirs[name]).astype(int)).max())
                for name in ours)
    assert worst <= 1  # the same model file and steps: equal up to one grey level of round-off
    assert sum(1 for _ in out.rglob("*_cutout.png")) == PHOTOS

    # a restarted run redoes nothing that is finished
    stamps = {name: path.stat().st_mtime_ns for name, path in ours.items()}
    again = segment_folder_ray(photo_folder, out, model=sinet_tflite, workers=2, progress=False)
    assert (again.processed, again.skipped, len(again.failed)) == (0, PHOTOS, 1)
    assert {name: path.stat().st_mtime_ns for name, path in _masks(out).items()} == stamps

    # a run killed part-way: only the missing outputs are made
    lost = sorted(ours)[:7]
    for name in lost:
        (out / name).unlink()
    resumed = segment_folder_ray(photo_folder, out, model=sinet_tflite, workers=2, progress=False)
    assert (resumed.processed, resumed.skipped) == (7, PHOTOS - 7)
    summary = (out / "summary.json").read_text()
    assert '"engine": "ray"' in summary and '"processed": 7' in summary


def test_an_address_that_does_not_answer_names_it(tmp_path, photo_folder, sinet_tflite):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again when the block ends: nothing listens there
    address = f"127.0.0.1:{port}"
    with pytest.raises(ClusterError, match=f"the Ray cluster at {address} does not answer"):
        from selfieseg.scale import segment_folder_ray

        segment_folder_ray(photo_folder, tmp_path / "out", model=sinet_tflite, address=address, progress=False)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_an_output_folder_inside_the_input_is_refused(photo_folder, sinet_tflite):
    from selfieseg.scale import segment_folder_ray

    with pytest.raises(OutputFolderError):
        segment_folder_ray(photo_folder, photo_folder / "masks", model=sinet_tflite, progress=False)
