"""selfieseg.data readers: real data where it exists, published-format fixtures elsewhere."""

from __future__ import annotations

import base64
import json
import shutil
import zlib
from io import BytesIO

import numpy as np
import pytest
import scipy.io
from conftest import portrait_like
from PIL import Image

from selfieseg import data
from selfieseg.errors import DatasetError, ImageReadError


# --- real data -------------------------------------------------------------------------
def test_pfcn_test_split_has_264_pairs_and_reports_missing(pfcn_test):
    assert len(pfcn_test) == 264
    assert len(pfcn_test.missing) == 36  # 300 official test numbers, 36 photos gone from Flickr
    sample = pfcn_test[0]
    assert sample.image.shape == (800, 600, 3) and sample.image.dtype == np.uint8
    assert sample.mask.shape == (800, 600) and set(np.unique(sample.mask)) <= {0, 1}
    assert 0.1 < sample.mask.mean() < 0.9


def test_pfcn_splits_are_disjoint_and_count_as_documented(data_root, pfcn_test):
    train = data.PFCN(data_root / "pfcn", split="train")
    unlisted = data.PFCN(data_root / "pfcn", split="unlisted")
    assert len(train) == 1290 and len(unlisted) == 51
    names = [set(r.name for r in d.records) for d in (train, pfcn_test, unlisted)]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])


def test_picsart_reads_all_1191_pairs(picsart):
    assert len(picsart) == 1191 and picsart.missing == []
    sample = picsart[5]
    assert sample.image.shape == (320, 240, 3) and sample.mask.shape == (320, 240)
    assert set(np.unique(sample.mask)) <= {0, 1} and sample.mask.max() == 1


def test_open_dataset_uses_the_data_root(data_root, monkeypatch):
    monkeypatch.setenv("SELFIESEG_DATA", str(data_root))
    assert {"pfcn", "picsart"} <= set(data.available())
    assert len(data.open_dataset("pfcn", split="test")) == 264
    with pytest.raises(DatasetError, match="unknown dataset"):
        data.open_dataset("imagenet")


def test_reading_never_modifies_dataset_files(data_root, picsart):
    path = picsart.records[0].mask
    before = (path.stat().st_mtime_ns, path.read_bytes())
    picsart[0]
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


# --- fixtures in the published formats ------------------------------------------------
def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(path)


def make_pfcn(root, numbers=(1, 2, 3), train=(1, 2, 9), test=(3,)):
    (root / "images_mask").mkdir(parents=True)
    for n in numbers:
        image, mask = portrait_like(seed=n)
        _save(root / "images_data_crop" / f"{n:05d}.jpg", image)
        scipy.io.savemat(root / "images_mask" / f"{n:05d}_mask.mat", {"mask": mask})
    scipy.io.savemat(root / "trainlist.mat", {"trainlist": np.array([train], np.uint16)})
    scipy.io.savemat(root / "testlist.mat", {"testlist": np.array([test], np.uint16)})
    return root


def test_pfcn_fixture_tolerates_absent_numbers_and_mat_without_key(tmp_path):
    root = make_pfcn(tmp_path / "pfcn")
    train = data.PFCN(root, split="train")
    assert len(train) == 2 and train.missing == ["00009"]
    image, mask = portrait_like(seed=1)
    assert np.array_equal(train[0].mask, mask)
    scipy.io.savemat(root / "images_mask" / "00002_mask.mat", {"alpha": mask})
    with pytest.raises(DatasetError, match="has no variable 'mask'") as info:
        train[1]
    assert "00002_mask.mat" in str(info.value)


def test_eg1800_portraitnet_layout_with_split_file(tmp_path):
    root = tmp_path / "eg1800"
    for n in range(4):
        image, mask = portrait_like(seed=n)
        _save(root / "Images" / f"{n:05d}.png", image)
        _save(root / "Labels" / f"{n:05d}.png", mask)  # 0/1 PNG
    (root / "eg1800_test.txt").write_text("00001.png\n00003.png\n")
    assert len(data.EG1800(root)) == 4
    test = data.EG1800(root, split="test")
    assert [r.name for r in test.records] == ["00001", "00003"]
    assert np.array_equal(test[0].mask, portrait_like(seed=1)[1])


def _voc_palette_png(path, classes):
    image = Image.fromarray(classes, "P")
    palette = [0] * 768
    palette[15 * 3 : 15 * 3 + 3] = [192, 128, 128]
    palette[255 * 3 : 255 * 3 + 3] = [224, 224, 192]
    image.putpalette(palette)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def test_pascal_person_palette_masks_and_void_ignore(tmp_path):
    root = tmp_path / "voc_person" / "VOCdevkit" / "VOC2012"
    classes = np.zeros((48, 36), np.uint8)
    classes[10:40, 8:28] = 15
    classes[9, :] = 255
    classes[0:5, 0:5] = 7  # a cat: not a person
    _voc_palette_png(root / "SegmentationClass" / "2007_000001.png", classes)
    _voc_palette_png(root / "SegmentationClass" / "2007_000002.png", np.full((48, 36), 7, np.uint8))
    for name in ("2007_000001", "2007_000002", "2007_000003"):
        _save(root / "JPEGImages" / f"{name}.jpg", portrait_like()[0])
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000001\n2007_000002\n")
    voc = data.PascalPerson(tmp_path / "voc_person")
    assert len(voc) == 1  # the cat-only mask is skipped, the JPEG without a mask is not a pair
    sample = voc[0]
    assert np.array_equal(sample.mask, (classes == 15).astype(np.uint8))
    assert np.array_equal(sample.ignore, classes == 255)
    assert len(data.PascalPerson(tmp_path / "voc_person", split="val", person_only=False)) == 2


def test_pascal_without_person_index_is_explained(tmp_path):
    root = tmp_path / "voc"
    _voc_palette_png(root / "SegmentationClass" / "a.png", np.full((8, 8), 3, np.uint8))
    _save(root / "JPEGImages" / "a.jpg", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DatasetError, match="person class"):
        data.PascalPerson(root)


def test_aisegment_rgba_alpha_hard_and_soft(tmp_path):
    root = tmp_path / "aisegment" / "matting_human_half"
    image, mask = portrait_like()
    alpha = (mask * 255).astype(np.uint8)
    alpha[0, 0] = 100  # a soft edge pixel
    _save(root / "clip_img" / "1803151818" / "clip_00000000" / "1803151818-00000003.jpg", image)
    _save(root / "matting" / "1803151818" / "matting_00000000" / "1803151818-00000003.png", np.dstack([image, alpha]), "RGBA")
    _save(root / "clip_img" / "1803151818" / "clip_00000000" / "1803151818-00000004.jpg", image)  # no matte
    hard = data.AISegment(tmp_path / "aisegment")
    assert len(hard) == 1 and len(hard.missing) == 1
    assert np.array_equal(hard[0].mask, (alpha >= 128).astype(np.uint8))
    soft = data.AISegment(tmp_path / "aisegment", soft=True)[0].mask
    assert soft.dtype == np.float32 and np.isclose(soft[0, 0], 100 / 255)


def _bitmap_field(mask_bool):
    buffer = BytesIO()
    Image.fromarray(mask_bool.astype(np.uint8) * 255, "L").convert("1").save(buffer, format="PNG")
    return base64.b64encode(zlib.compress(buffer.getvalue())).decode()


def test_supervisely_polygons_with_holes_bitmaps_and_neutral(tmp_path):
    root = tmp_path / "supervisely_person"
    (root / "ds1" / "img").mkdir(parents=True)
    (root / "ds1" / "ann").mkdir(parents=True)
    (root / "meta.json").write_text(json.dumps({"classes": [{"title": "person_poly"}, {"title": "person_bmp"}, {"title": "neutral"}]}))
    _save(root / "ds1" / "img" / "pexels-1.png", np.zeros((60, 80, 3), np.uint8))
    patch = np.zeros((10, 12), bool)
    patch[2:8, 3:9] = True
    annotation = {
        "size": {"height": 60, "width": 80},
        "objects": [
            {"classTitle": "person_poly", "geometryType": "polygon",
             "points": {"exterior": [[10, 10], [40, 10], [40, 50], [10, 50]], "interior": [[[20, 20], [30, 20], [30, 30], [20, 30]]]}},
            {"classTitle": "person_bmp", "geometryType": "bitmap", "bitmap": {"data": _bitmap_field(patch), "origin": [60, 5]}},
            {"classTitle": "neutral", "geometryType": "polygon", "points": {"exterior": [[50, 40], [70, 40], [70, 55], [50, 55]], "interior": []}},
        ],
    }
    (root / "ds1" / "ann" / "pexels-1.png.json").write_text(json.dumps(annotation))
    sample = data.SuperviselyPerson(root)[0]
    assert sample.mask.shape == (60, 80)
    assert sample.mask[15, 15] == 1 and sample.mask[25, 25] == 0  # inside polygon, inside hole
    assert sample.mask[5 + 4, 60 + 5] == 1 and sample.mask[5, 60] == 0  # bitmap placed at origin
    assert sample.mask[:, 60:72][5:15].sum() == patch.sum()
    assert sample.ignore[45, 60] and not sample.ignore[15, 15]


def test_folder_pair_datasets_and_portseg(tmp_path):
    for cls, images, masks in [
        (data.Portrait256, "train/images", "train/masks"),
        (data.SuperviselyPortrait, "images", "masks"),
        (data.BaiduAug, "images", "profiles"),
    ]:
        root = tmp_path / cls.name
        image, mask = portrait_like()
        _save(root / images / "a.jpg", image)
        _save(root / masks / "a.png", mask * 255)
        reader = cls(root)
        assert len(reader) == 1 and np.array_equal(reader[0].mask, mask), cls.name
    root = tmp_path / "portseg128"
    root.mkdir()
    images = np.stack([portrait_like(128, 128, s)[0] for s in range(3)])
    masks = np.stack([portrait_like(128, 128, s)[1] for s in range(3)])[..., None] * 255
    np.save(root / "img_uint8.npy", images)
    np.save(root / "msk_uint8.npy", masks)
    portseg = data.Portseg128(root)
    assert len(portseg) == 3 and np.array_equal(portseg[2].image, images[2])
    assert np.array_equal(portseg[2].mask, masks[2, ..., 0] // 255)


def test_ucf_selfie_is_unlabelled(tmp_path):
    root = tmp_path / "ucf_selfie" / "images"
    _save(root / "selfie1.jpg", portrait_like()[0])
    reader = data.UCFSelfie(tmp_path / "ucf_selfie")
    assert len(reader) == 1 and reader[0].mask is None and reader.labelled is False


def test_own_folder_pairs_by_stem_with_suffix_and_reports_unmatched(tmp_path):
    image, mask = portrait_like()
    _save(tmp_path / "photos" / "me.jpg", image)
    _save(tmp_path / "photos" / "you.jpg", image)
    _save(tmp_path / "labels" / "me_mask.png", mask * 255)
    reader = data.ImageMaskFolder(tmp_path / "photos", tmp_path / "labels", mask_suffix="_mask")
    assert len(reader) == 1 and reader.missing == ["you.jpg"]
    with pytest.raises(DatasetError, match="1 images have no mask"):
        data.ImageMaskFolder(tmp_path / "photos", tmp_path / "labels", mask_suffix="_mask", strict=True)


# --- bad input ------------------------------------------------------------------------
def test_mismatched_mask_size_names_both_files_and_can_be_repaired(tmp_path):
    image, mask = portrait_like()
    _save(tmp_path / "i" / "x.jpg", image)
    _save(tmp_path / "m" / "x.png", np.zeros((10, 10), np.uint8))
    reader = data.ImageMaskFolder(tmp_path / "i", tmp_path / "m")
    with pytest.raises(ImageReadError, match="mask is 10x10 but its image") as info:
        reader[0]
    assert "x.png" in str(info.value) and "x.jpg" in str(info.value)
    repaired = data.ImageMaskFolder(tmp_path / "i", tmp_path / "m", resize_masks=True)[0]
    assert repaired.mask.shape == image.shape[:2]


def test_empty_and_missing_folders_and_corrupt_members(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "train_mask").mkdir()
    with pytest.raises(DatasetError, match="no samples found"):
        data.PicsArt(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not found"):
        data.PicsArt(tmp_path / "nowhere")
    _save(tmp_path / "c" / "train_mask" / "1.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "c" / "train").mkdir()
    (tmp_path / "c" / "train" / "1.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ImageReadError) as info:
        data.PicsArt(tmp_path / "c")[0]
    assert "1.jpg" in str(info.value)


def test_subset_is_a_view_with_the_same_decoding(picsart):
    part = picsart.subset(range(2, 5))
    assert len(part) == 3 and len(picsart) == 1191
    assert np.array_equal(part[0].mask, picsart[2].mask) and part[0].name == picsart[2].name
    assert len(picsart.subset(slice(None, None, 100))) == 12
    with pytest.raises(DatasetError, match="empty"):
        picsart.subset([])


# --- beyond portraits: full bodies (CCP), in-the-wild people (VOC), video (DAVIS) ------
def test_ccp_reads_854_full_body_samples_with_named_clothing_labels(data_root):
    ccp = data.CCP(data_root / "ccp")
    assert len(ccp) == 854 and ccp.missing == []
    assert len(ccp.label_names) == 59 and ccp.label_names[0] == "null"
    assert {"skin", "hair", "shoes"} <= set(ccp.label_names)
    for index in (0, 400, 853):
        sample = ccp[index]
        assert sample.image.shape[1:] == (550, 3) and 800 <= sample.image.shape[0] <= 880  # heights vary
        assert sample.mask.shape == sample.image.shape[:2]
        assert set(np.unique(sample.mask)) == {0, 1} and sample.ignore is None
        assert 0.05 < sample.mask.mean() < 0.6  # one standing person, head to feet
        parts = ccp.parts(index)
        assert parts.dtype == np.uint8 and parts.max() < 59
        assert np.array_equal(sample.mask, (parts > 0).astype(np.uint8))
    unlabelled = ccp[[r.name for r in ccp.records].index("0536")]  # upstream drew no label at all
    assert unlabelled.mask.max() == 0 and unlabelled.ignore.all()
    assert data.open_dataset("ccp", root=data_root).name == "ccp"


def test_voc_person_real_data_keeps_void_as_ignore(data_root):
    voc = data.PascalPerson(data_root / "voc_person")
    assert len(voc) == 594 and voc.missing == []
    for index in (0, 300, 593):
        sample = voc[index]
        classes = np.asarray(Image.open(voc.records[index].mask))
        assert sample.mask.shape == sample.ignore.shape == sample.image.shape[:2]
        assert set(np.unique(sample.mask)) == {0, 1} and sample.ignore.dtype == bool
        assert np.array_equal(sample.ignore, classes == 255) and sample.ignore.any()
        assert np.array_equal(sample.mask, (classes == 15).astype(np.uint8))
        assert not (sample.ignore & (sample.mask == 1)).any()


def test_davis_parkour_gives_100_frames_in_order_with_masks(data_root):
    video = data.VideoSequence(data_root / "davis")
    assert len(video) == 100 and video.sequence == "parkour" and video.sequences == ["parkour"]
    assert [r.name for r in video.records] == [f"parkour/{n:05d}" for n in range(100)]
    frames = video.frames()
    assert frames.shape == (100, 480, 854, 3) and frames.dtype == np.uint8
    masks = video.masks()
    assert masks.shape == (100, 480, 854) and set(np.unique(masks)) == {0, 1}
    assert (masks.reshape(100, -1).mean(axis=1) > 0.005).all()  # the subject is in every frame
    assert np.array_equal(video[37].image, frames[37])
    with pytest.raises(DatasetError, match=r"sequence 'bmx-trees' not found.*\['parkour'\]"):
        data.VideoSequence(data_root / "davis", sequence="bmx-trees")
    with pytest.raises(DatasetError, match=r"resolution '1080p' not found.*480p"):
        data.VideoSequence(data_root / "davis", resolution="1080p")


def make_ccp(root, annotated=(1, 2, 3), photographed=(1, 2, 4), size=(48, 36)):
    """A CCP folder: photos, pixel-level .mat labels and label_list.mat, as upstream publishes them."""
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    names = np.array(["null", "bag", "skin", "shoes"], dtype=object)
    scipy.io.savemat(root / "label_list.mat", {"label_list": names[None, :]})
    for n in photographed:
        _save(root / "photos" / f"{n:04d}.jpg", portrait_like(*size, seed=n)[0])
    labels = {}
    for n in annotated:
        mask = portrait_like(*size, seed=n)[1]
        labels[n] = (mask * (1 + (np.arange(size[1]) % 3))[None, :]).astype(np.uint8)  # parts 1..3 in the person
        scipy.io.savemat(root / "annotations" / "pixel-level" / f"{n:04d}.mat", {"groundtruth": labels[n]})
    return root, labels


def test_ccp_fixture_pairs_annotations_with_photos_and_reports_orphans(tmp_path):
    root, labels = make_ccp(tmp_path / "ccp")
    ccp = data.CCP(root)
    # photo 0004 has no pixel-level labels: not a sample; annotation 0003 has no photo: reported
    assert [r.name for r in ccp.records] == ["0001", "0002"] and ccp.missing == ["0003.mat"]
    assert ccp.label_names == ["null", "bag", "skin", "shoes"]
    assert np.array_equal(ccp[1].mask, (labels[2] > 0).astype(np.uint8))
    assert np.array_equal(ccp.parts(1), labels[2]) and np.array_equal(ccp.parts(-1), labels[2])
    with pytest.raises(DatasetError, match="1 annotations have no photo") as info:
        data.CCP(root, strict=True)
    assert "0003.mat" in str(info.value)
    shutil.rmtree(root / "annotations")
    with pytest.raises(DatasetError, match="annotations/pixel-level/ folder not found"):
        data.CCP(root)


def test_ccp_mat_without_groundtruth_names_the_file(tmp_path):
    root, _ = make_ccp(tmp_path / "ccp")
    scipy.io.savemat(root / "annotations" / "pixel-level" / "0002.mat", {"labels": np.zeros((48, 36), np.uint8)})
    ccp = data.CCP(root)
    ccp[0]
    with pytest.raises(DatasetError, match="has no variable 'groundtruth'") as info:
        ccp[1]
    assert "0002.mat" in str(info.value)
    scipy.io.savemat(root / "annotations" / "pixel-level" / "0002.mat", {"groundtruth": np.full((48, 36), 77, np.uint8)})
    with pytest.raises(DatasetError, match="label 77 is beyond the 4 names"):
        ccp[1]


def test_ccp_mask_of_another_size_is_refused_or_resized(tmp_path):
    root, _ = make_ccp(tmp_path / "ccp", annotated=(1,), photographed=(1,))
    small = np.zeros((10, 10), np.uint8)
    small[2:8, 3:7] = 2
    scipy.io.savemat(root / "annotations" / "pixel-level" / "0001.mat", {"groundtruth": small})
    with pytest.raises(ImageReadError, match="mask is 10x10 but its image") as info:
        data.CCP(root)[0]
    assert "0001.mat" in str(info.value) and "0001.jpg" in str(info.value)
    with pytest.raises(ImageReadError, match="mask is 10x10"):
        data.CCP(root).parts(0)
    repaired = data.CCP(root, resize_masks=True)
    assert repaired[0].mask.shape == (48, 36) and set(np.unique(repaired.parts(0))) == {0, 2}


def test_davis_fixture_numeric_order_and_frame_without_mask(tmp_path):
    root = tmp_path / "davis"
    frames = root / "JPEGImages" / "480p" / "walk"
    masks = root / "Annotations" / "480p" / "walk"
    for n in (9, 10, 100):  # numeric order is not string order
        image, mask = portrait_like(seed=n)
        _save(frames / f"{n}.jpg", image)
        _save(masks / f"{n}.png", mask * 255, "L")
    video = data.VideoSequence(root, sequence="walk")
    assert [r.name for r in video.records] == ["walk/9", "walk/10", "walk/100"]
    assert np.array_equal(video[2].mask, portrait_like(seed=100)[1])
    _save(frames / "11.jpg", portrait_like(seed=11)[0])
    with pytest.raises(DatasetError, match="frame has no mask 11.png") as info:
        data.VideoSequence(root, sequence="walk")
    assert str(frames / "11.jpg") in str(info.value)
    with pytest.raises(DatasetError, match=r"the sequences here are \['walk'\]"):
        data.VideoSequence(root)
