"""The command line: real commands, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from selfieseg.cli import main


def test_datasets_lists_what_is_present(data_root, capsys, monkeypatch):
    monkeypatch.setenv("SELFIESEG_DATA", str(data_root))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "pfcn" in out and "1605 samples" in out  # split=all: every PFCN image with a mask
    assert "picsart" in out and "1191 samples" in out
    assert "aisegment" in out and "manual" in out


def test_user_errors_print_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "selfieseg", "download", "aisegment", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("selfieseg: error: aisegment: no direct download link")
    assert "Traceback" not in result.stderr


def test_models_lists_the_four_architectures(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("mnv2_unet", "mnv3_unet", "portraitnet", "sinet"):
        assert name in out
    assert "86,834" in out and "_tiny" not in out


@pytest.mark.slow
def test_train_distils_a_teacher_from_a_keras_file(tmp_path, data_root, training_cache, capsys, monkeypatch):
    import json

    import selfieseg

    monkeypatch.setenv("SELFIESEG_DATA", str(data_root))
    monkeypatch.setenv("SELFIESEG_CACHE", str(training_cache))
    teacher = tmp_path / "teacher.keras"
    selfieseg.load("sinet_tiny", weights=None).save(teacher)
    common = ["train", "--model", "sinet_tiny", "--data", "picsart", "--epochs", "1", "--steps-per-epoch", "1",
              "--batch-size", "4"]
    out = tmp_path / "student"
    assert main([*common, "--out", str(out), "--teacher", str(teacher), "--distill", "0.4", "--minutes", "5",
                 "--workers", "2", "--average-from", "0", "--augment", "mild", "--composite", "0.5"]) == 0
    state = json.loads((out / "state.json").read_text())
    settings = state["settings"]
    assert settings["distill"] == 0.4 and settings["teacher"] == str(teacher) and settings["minutes"] == 5
    assert settings["average_from"] == 0 and state["averaged"] == 1 and (out / "average.weights.h5").exists()
    assert settings["augment"] == "mild" and settings["composite"] == 0.5
    # a share outside [0, 1] is refused in one line, before any data is read or a folder made
    assert main([*common, "--out", str(tmp_path / "y"), "--composite", "1.5"]) == 2
    assert "probability in [0, 1]" in capsys.readouterr().err and not (tmp_path / "y").exists()
    assert main([*common, "--out", str(tmp_path / "x"), "--teacher", "no_such_model"]) == 2
    assert "no_such_model" in capsys.readouterr().err
    # ship --weights average reaches ship(): a run whose average is gone is refused in one line
    (out / "average.weights.h5").unlink()
    assert main(["ship", "--run", str(out), "--weights", "average"]) == 2
    assert "no weight average to ship" in capsys.readouterr().err


def test_train_refuses_a_test_split_by_name(tmp_path, capsys):
    from selfieseg.cli import main

    assert main(["train", "--model", "sinet_tiny", "--data", "pfcn,ccp:test", "--out", str(tmp_path / "run")]) == 2
    assert "ccp test split" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_train_on_more_devices_than_the_backend_gives_says_how(tmp_path, capsys):
    """On TensorFlow, --devices 2 is refused before any data is read, naming the JAX backend."""
    out = tmp_path / "run"
    assert main(["train", "--model", "sinet_tiny", "--data", "picsart", "--devices", "2", "--out", str(out)]) == 2
    assert "KERAS_BACKEND=jax" in capsys.readouterr().err
    assert not out.exists()
    assert main(["train", "--model", "sinet_tiny", "--devices", "several", "--out", str(out)]) == 2
    assert "'all' or a whole number" in capsys.readouterr().err


def test_segment_on_a_ray_address_that_does_not_answer_names_it(tmp_path, capsys, pfcn_test):
    import shutil
    import socket

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(pfcn_test.records[0].image, photos)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    assert main(["segment", str(photos), "-o", str(tmp_path / "out"), "--ray", f"127.0.0.1:{port}"]) == 2
    assert f"the Ray cluster at 127.0.0.1:{port} does not answer" in capsys.readouterr().err


def test_evaluate_scores_the_committed_test_list_not_the_whole_set(capsys, data_root):
    """VOC person's test split is the committed 83-photo list (not all 594, most of which
    a mixed run trains on); a set without splits refuses a split by name."""
    from selfieseg.cli import main

    assert main(["evaluate", "--model", "sinet", "--data", "voc_person"]) == 0
    plain = capsys.readouterr().out
    assert "sinet on voc_person test (83 images)" in plain
    assert main(["evaluate", "--model", "sinet", "--data", "voc_person", "--mirror"]) == 0
    mirrored = capsys.readouterr().out
    assert "sinet mirrored on voc_person test (83 images)" in mirrored

    def score(line):
        return float(line.split("mean per-image IoU ")[1].split(",")[0])

    assert score(mirrored) != score(plain)  # a different pipeline, not the plain one again
    assert main(["evaluate", "--model", "sinet", "--data", "picsart", "--split", "test"]) == 2
    assert "picsart has no test split" in capsys.readouterr().err
