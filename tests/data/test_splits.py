"""Held-out test splits of VOC person and CCP, and the refusal to train on any test split."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from selfieseg import data
from selfieseg.data import splits
from selfieseg.errors import DatasetError

HELD_OUT_SETS = [("voc_person", 594), ("ccp", 854)]


# --- the rule ------------------------------------------------------------------------
def test_rule_is_sha256_of_the_name_and_holds_out_about_15_percent():
    for name in ("0004", "000129", "anything"):
        value = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
        assert splits.is_held_out(name) == (value < 0.15 * 2**64)
    assert splits.is_held_out("0004") and not splits.is_held_out("0001")  # pinned: never moves
    names = [f"img_{i:05d}" for i in range(20000)]
    assert abs(len(splits.hash_split(names)) / len(names) - 0.15) < 0.01
    assert splits.hash_split(["0008", "0004", "0004", "0001"]) == ["0004", "0008"]
    with pytest.raises(DatasetError, match="between 0 and 1"):
        splits.is_held_out("x", fraction=1.5)


# --- the committed lists against the real data ---------------------------------------
@pytest.mark.parametrize("dataset,total", HELD_OUT_SETS)
def test_committed_list_is_what_the_rule_gives_on_the_real_data(data_root, dataset, total, tmp_path):
    names = [r.name for r in data.open_dataset(dataset, root=data_root, split="all").records]
    assert len(names) == total
    listed = splits.held_out_names(dataset)
    assert listed == set(splits.hash_split(names))
    assert 0.12 < len(listed) / total < 0.18
    committed = splits.split_list_path(dataset)
    assert committed.parent.name == "splits" and committed.parent.parent.name == "data"  # inside the package
    written = splits.write_split_lists(root=data_root, datasets=(dataset,), folder=tmp_path)[dataset]
    assert written.read_text() == committed.read_text()  # regenerating changes nothing


@pytest.mark.parametrize("dataset,total", HELD_OUT_SETS)
def test_reader_train_and_test_partition_the_set(data_root, dataset, total):
    test = data.open_dataset(dataset, root=data_root, split="test")
    train = data.open_dataset(dataset, root=data_root, split="train")
    test_names, train_names = {r.name for r in test.records}, {r.name for r in train.records}
    assert test_names == splits.held_out_names(dataset) and test.missing == []
    assert not (test_names & train_names) and len(test_names) + len(train_names) == total
    sample = test[0]
    assert sample.name in test_names and set(np.unique(sample.mask)) <= {0, 1}


def test_unknown_split_and_a_copy_with_other_names_are_explained(data_root, tmp_path):
    with pytest.raises(DatasetError, match="unknown ccp split 'val'"):
        data.CCP(data_root / "ccp", split="val")
    # the full VOC2012 download names its files 2007_000032, not 000032: the list matches none of them
    root = tmp_path / "voc"
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    person = Image.fromarray(np.full((8, 8), 15, np.uint8), "P")
    person.putpalette([0, 0, 0] * 15 + [192, 128, 128] + [0, 0, 0] * 240)
    for n in range(40):
        person.save(root / "SegmentationClass" / f"2007_{n:06d}.png")
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "JPEGImages" / f"2007_{n:06d}.jpg")
    assert len(data.PascalPerson(root)) == 40
    with pytest.raises(DatasetError, match="none of the 83 names") as info:
        data.PascalPerson(root, split="test")
    assert "voc_person_test.txt" in str(info.value) and "split='all'" in str(info.value)


# --- the training side ---------------------------------------------------------------
def test_training_portions_of_each_dataset():
    assert data.held_out_splits(["pfcn", "voc_person", "ccp", "picsart"]) == [
        ("pfcn", {"split": "train"}),
        ("voc_person", {"split": "train"}),
        ("ccp", {"split": "train"}),
        ("picsart", {}),
    ]
    assert splits.held_out_splits("ccp:train") == [("ccp", {"split": "train"})]
    assert splits.held_out_splits(["pfcn:unlisted"]) == [("pfcn", {"split": "unlisted"})]
    assert data.refuse_held_out(["picsart", "pfcn"]) is None


@pytest.mark.parametrize("name,split", [
    ("voc_person:test", "voc_person test split"),
    ("ccp:test", "ccp test split"),
    ("pfcn:test", "pfcn test split"),
    ("pfcn_test", "pfcn test split"),
    ("picsart:test", "picsart test split"),
    ("ccp:all", "includes its held-out test split"),
    ("voc_person:all", "includes its held-out test split"),
    ("pfcn:all", "includes its held-out test split"),
    ("picsart:train", "picsart has no splits"),
    ("pfcn:val", r"\['train', 'unlisted'\]"),
])
def test_test_splits_are_refused_by_name(name, split):
    with pytest.raises(DatasetError, match=split) as info:
        splits.refuse_held_out(["picsart", name])
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("name", ["davis", "davis:test", "davis:train"])
def test_davis_is_evaluation_only(name):
    with pytest.raises(DatasetError, match="evaluation only"):
        data.held_out_splits(["pfcn", name])
