"""Person statistics: shares, people per photo and clothing-label shares, on real photos and known masks."""

from __future__ import annotations

import numpy as np
import pytest

from selfieseg import data
from selfieseg.data.readers import Sample
from selfieseg.data.stats import MIN_PERSON_SHARE, label_shares, mask_statistics, person_count, person_regions
from selfieseg.errors import InputError


# --- small masks with a known answer ---------------------------------------------------
def blobs(*boxes, shape=(100, 100)):
    mask = np.zeros(shape, np.uint8)
    for top, left, bottom, right in boxes:
        mask[top:bottom, left:right] = 1
    return mask


def test_two_blobs_are_two_people_largest_first():
    mask = blobs((10, 10, 40, 30), (50, 60, 90, 90))  # 600 and 1200 pixels of 10,000
    labels, shares = person_regions(mask)
    assert person_count(mask) == 2
    np.testing.assert_allclose(shares, [0.12, 0.06])
    assert (labels == 1).sum() == 1200 and labels[70, 70] == 1 and labels[20, 20] == 2
    assert person_count(mask * 255) == 2  # 0/255 masks too
    assert person_count(np.zeros((20, 20), np.uint8)) == 0


def test_regions_below_the_minimum_area_are_not_counted():
    mask = blobs((10, 10, 40, 40), (80, 80, 82, 82))  # a 900-pixel person and a 4-pixel fleck
    assert person_count(mask, min_share=0.001) == 1
    assert person_count(mask, min_share=0.0) == 2
    labels, shares = person_regions(mask, min_share=0.001)
    assert labels[81, 81] == 0 and list(shares) == [0.09]
    assert person_count(blobs((0, 0, 2, 2)), min_share=MIN_PERSON_SHARE) == 1  # 4 of 10,000 pixels: above 0.03%


def test_void_pixels_are_not_person():
    # two people joined by a strip that the mask calls person but the ignore mask calls void
    mask = blobs((10, 10, 50, 40), (10, 42, 50, 70), (10, 40, 50, 42))
    void = np.zeros(mask.shape, bool)
    void[:, 40:42] = True
    assert person_count(mask) == 1
    assert person_count(mask, ignore=void) == 2
    assert person_count(mask, ignore=np.ones(mask.shape, bool)) == 0


def test_people_touching_at_a_corner_are_apart_with_edge_connectivity():
    mask = blobs((0, 0, 10, 10), (10, 10, 20, 20))
    assert person_count(mask) == 2
    assert person_count(mask, connectivity=8) == 1


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="connectivity"):
        person_count(blobs((0, 0, 5, 5)), connectivity=6)
    with pytest.raises(InputError, match="min_share"):
        person_count(blobs((0, 0, 5, 5)), min_share=1.0)
    with pytest.raises(InputError, match="does not match"):
        person_count(blobs((0, 0, 5, 5)), ignore=np.zeros((5, 5), bool))
    with pytest.raises(InputError, match="outside"):
        label_shares([np.array([[0, 3]])], count=3)


def test_label_shares_pool_person_pixels_and_leave_out_background():
    first = np.array([[0, 0, 1, 1], [2, 2, 2, 2]])  # background 2, label 1: 2, label 2: 4
    second = np.array([[0, 2], [0, 0]])
    shares = label_shares([first, second], count=4)
    np.testing.assert_allclose(shares, [0, 2 / 7, 5 / 7, 0])
    assert label_shares([np.zeros((3, 3), int)], count=2).tolist() == [0, 0]


def test_mask_statistics_leaves_out_ignored_pixels_and_unlabelled_images():
    image = np.zeros((100, 100, 3), np.uint8)
    mask = blobs((10, 10, 40, 30), (50, 60, 90, 90))
    void = np.zeros(mask.shape, bool)
    void[:, 95:] = True  # 500 void pixels: the share is of the 9,500 labelled ones
    samples = [
        Sample(image, mask, void, "two"),
        Sample(image, blobs((0, 0, 50, 100)), None, "half"),
        Sample(image, np.zeros((100, 100), np.uint8), np.ones((100, 100), bool), "unlabelled"),
    ]
    stats = mask_statistics(samples, size=10)
    assert stats["count"] == 3 and stats["names"] == ["two", "half"] and stats["skipped"] == ["unlabelled"]
    np.testing.assert_allclose(stats["area"], [1800 / 9500, 0.5])
    assert stats["people"].tolist() == [2, 1]
    heatmap = stats["heatmap"]  # the mean of the two labelled masks on a 10x10 grid
    assert heatmap.shape == (10, 10)
    assert heatmap[1, 1] == 1.0 and heatmap[0, 0] == 0.5 and heatmap[6, 7] == 0.5 and heatmap[9, 9] == 0.0
    assert stats["centroids"].shape == (2, 2)


# --- real photos -------------------------------------------------------------------------
#: VOC person photos whose people were counted by eye (and the count that 8-connectivity gives)
VOC_PEOPLE = {
    "001526": (5, 5),  # five men side by side, each outlined by void
    "000480": (3, 2),  # three ground crew in front of a jet; the two on the left touch diagonally
    "002954": (2, 2),  # a man at a window and a girl
    "000032": (2, 2),  # two workers on the apron; a 30-pixel fleck of person is below the minimum
    "000862": (1, 1),  # one person in a boat on a lake, 99 pixels
}


@pytest.fixture(scope="module")
def voc(data_root):
    reader = data.open_dataset("voc_person", root=data_root, split="all")
    wanted = {record.name: index for index, record in enumerate(reader.records) if record.name in VOC_PEOPLE}
    assert set(wanted) == set(VOC_PEOPLE), "the VOC photos counted by eye are missing"
    return reader.subset([wanted[name] for name in VOC_PEOPLE])


def test_people_in_real_voc_photos_are_the_counts_seen_by_eye(voc):
    for sample in voc:
        four, eight = VOC_PEOPLE[sample.name]
        assert person_count(sample.mask, sample.ignore) == four, sample.name
        assert person_count(sample.mask, sample.ignore, connectivity=8) == eight, sample.name
    fleck = next(s for s in voc if s.name == "000032")
    assert person_count(fleck.mask, fleck.ignore, min_share=0.0) == 3


def test_mask_statistics_on_real_voc_photos(voc):
    stats = mask_statistics(voc)
    assert stats["names"] == list(VOC_PEOPLE) and not stats["skipped"]
    assert stats["people"].tolist() == [four for four, _ in VOC_PEOPLE.values()]
    for sample, area in zip(voc, stats["area"]):
        assert sample.ignore.any()  # VOC's void border
        assert area == pytest.approx(sample.mask[~sample.ignore].mean())
        assert area > sample.mask.mean()  # void pixels left out of the share
    assert 0.5 < stats["area"][0] < 0.8 and stats["area"][-1] < 0.001


def test_ccp_label_shares_on_real_photos(data_root):
    ccp = data.open_dataset("ccp", root=data_root, split="all")
    parts = [ccp.parts(i) for i in range(3)]
    for index, labels in enumerate(parts):
        assert np.array_equal(ccp[index].mask, (labels > 0).astype(np.uint8))  # person = any label but null
        assert person_count(ccp[index].mask) >= 1
    shares = label_shares(parts, len(ccp.label_names))
    assert shares[0] == 0 and shares.sum() == pytest.approx(1.0)
    pixels = sum(int((labels > 0).sum()) for labels in parts)
    skin = ccp.label_names.index("skin")
    assert shares[skin] == pytest.approx(sum(int((labels == skin).sum()) for labels in parts) / pixels)
    assert 0.02 < shares[skin] < 0.6


def test_ccp_annotation_without_a_labelled_pixel_is_skipped(data_root):
    ccp = data.open_dataset("ccp", root=data_root, split="all")
    index = next(i for i, record in enumerate(ccp.records) if record.name == "0536")
    stats = mask_statistics(ccp.subset([index, 0]))
    assert stats["skipped"] == ["0536"] and stats["names"] == [ccp.records[0].name]
