"""Training input: cache, PyDataset batches, augmentation alignment, prior, ignore weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from selfieseg.data import Augmenter, SegmentationSequence, build_cache, split_indices
from selfieseg.data.augment import previous_frame_prior
from selfieseg.data.pipeline import ArrayCache
from selfieseg.data.readers import Sample
from selfieseg.errors import DatasetError


def test_cache_round_trips_real_pfcn_and_picsart(tmp_path, pfcn_test, picsart):
    cache = build_cache([pfcn_test.subset(range(6)), picsart.subset(range(4))], tmp_path / "c", size=(64, 48), progress=False)
    assert len(cache) == 10 and cache.images.shape == (10, 64, 48, 3) and cache.masks.dtype == np.uint8
    assert cache.names[0] == "pfcn/00002" and cache.names[6].startswith("picsart/")
    assert cache.ignore is None
    sample = pfcn_test[0]
    import cv2

    expected = cv2.resize(sample.mask.astype(np.float32), (48, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(cache.masks[0] / 255.0 - expected).mean() < 0.02
    again = ArrayCache(tmp_path / "c")
    assert again.names == cache.names
    assert build_cache([picsart.subset(range(2))], tmp_path / "c", size=(64, 48)).names == cache.names  # reused
    with pytest.raises(DatasetError, match="holds size"):
        build_cache([picsart.subset(range(2))], tmp_path / "c", size=(32, 32))


def test_cache_built_meanwhile_by_another_process_is_kept(tmp_path, picsart):
    """Parallel test workers (or two runs) may build the same cache at once: the one
    that finishes second keeps the first one's complete cache and leaves no staging folder,
    unless that cache has another size (refused, as when it is found at the start)."""

    class RacingReader:
        """PicsArt images; while they are decoded, a 'second process' completes ``target``."""

        name, root, labelled = "picsart", picsart.root, True

        def __init__(self, target, other_size):
            self.target, self.other_size = target, other_size

        def __len__(self):
            return 3

        def __iter__(self):
            build_cache([picsart.subset(range(2))], self.target, size=self.other_size, progress=False)
            yield from picsart.subset(range(3))

    target = tmp_path / "shared_cache"
    cache = build_cache([RacingReader(target, (32, 32))], target, size=(32, 32), progress=False)
    assert len(cache) == 2  # the first finisher's cache
    assert [p.name for p in tmp_path.iterdir()] == ["shared_cache"]
    other = tmp_path / "other_size"
    with pytest.raises(DatasetError, match="holds size"):
        build_cache([RacingReader(other, (24, 24))], other, size=(32, 32), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other_size", "shared_cache"]


def test_sequence_batches_from_real_data_with_augmentation(picsart):
    sequence = SegmentationSequence(picsart.subset(range(10)), batch_size=4, size=96, augment=True, seed=1)
    assert len(sequence) == 3
    x, y, w = sequence[0]
    assert x.shape == (4, 96, 96, 3) and y.shape == (4, 96, 96, 1) and w.shape == (4, 96, 96)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and set(np.unique(w)) == {1.0}
    assert 0 < y.mean() < 1
    last = sequence[2]
    assert last[0].shape[0] == 2
    first_epoch = sequence[0][0]
    sequence.on_epoch_end()
    assert not np.array_equal(first_epoch, sequence[0][0])  # new order and new augmentation


def test_augmentation_moves_image_and_mask_together(rng):
    # The mask is a channel of the image: after any warp they must still agree.
    image = np.zeros((120, 90, 3), np.uint8)
    image[30:100, 20:70] = 255
    mask = (image[..., 0] > 0).astype(np.uint8) * 255
    augmenter = Augmenter(brightness=0, contrast=0, saturation=0, hue=0, blur=0, noise=0)
    for seed in range(20):
        out, warped, _ = augmenter(image, mask, None, np.random.default_rng(seed), (64, 64))
        agree = ((out[..., 0] > 127) == (warped > 127)).mean()
        assert agree > 0.98, f"seed {seed}: image and mask disagree on {1 - agree:.1%} of pixels"


def test_prior_channel_and_ignore_weights():
    image = np.full((40, 40, 3), 120, np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 1
    ignore = np.zeros((40, 40), bool)
    ignore[:5] = True

    class Tiny:
        name, root, labelled = "tiny", ".", True

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return Sample(image, mask, ignore, str(i))

    sequence = SegmentationSequence(Tiny(), batch_size=8, size=40, augment=None, prior=True)
    x, y, w = sequence[0]
    assert x.shape == (8, 40, 40, 4)
    assert (w[:, :5] == 0).all() and (w[:, 5:] == 1).all()
    priors = [previous_frame_prior(mask.astype(np.float32), np.random.default_rng(s)) for s in range(40)]
    empty = sum(p.max() == 0 for p in priors)
    assert 8 <= empty <= 32  # about half are empty (first frame of a video)
    moved = [p for p in priors if p.max() > 0]
    overlap = np.mean([((p > 0.5) & (mask > 0)).sum() / mask.sum() for p in moved])
    assert 0.6 < overlap < 1.0  # deformed, but still where the person was


def test_split_indices_is_disjoint_and_deterministic():
    train, val = split_indices(100, 0.1, seed=3)
    assert len(val) == 10 and not set(train) & set(val) and len(train) + len(val) == 100
    assert np.array_equal(split_indices(100, 0.1, seed=3)[1], val)


def test_twin_shares_geometry_and_mask_but_not_texture(picsart):
    subset = picsart.subset(range(6))
    sequence = SegmentationSequence(subset, batch_size=3, size=96, augment=True, seed=2, twin=True, prior=True,
                                    valid_channel=True, output_names=("mask", "twin_mask", "consistency"))
    x, y = sequence[0]
    assert set(x) == {"image", "twin"} and x["image"].shape == x["twin"].shape == (3, 96, 96, 4)
    assert set(y) == {"mask", "twin_mask", "consistency"} and y["mask"].shape == (3, 96, 96, 2)
    assert np.abs(x["image"][..., :3] - x["twin"][..., :3]).mean() > 0.01  # two texture draws
    np.testing.assert_array_equal(x["image"][..., 3], x["twin"][..., 3])  # one prior for both
    # with every texture change off the twin is the image itself: the geometry is shared
    still = Augmenter(brightness=0, contrast=0, saturation=0, hue=0, blur=0, noise=0)
    plain = SegmentationSequence(subset, batch_size=3, size=96, augment=still, seed=2, twin=True)
    x, y, w = plain[0]
    np.testing.assert_array_equal(x["image"], x["twin"])
    assert 0 < y.mean() < 1
    # a new background is pasted before the two texture draws: both twins share it
    swapped = SegmentationSequence(subset, batch_size=3, size=96, augment=Augmenter(**{**still.get_config(), "composite": 1.0}),
                                   seed=2, twin=True)
    xs, ys, _ = swapped[0]
    np.testing.assert_array_equal(xs["image"], xs["twin"])
    np.testing.assert_array_equal(ys, y)
    assert np.abs(xs["image"] - x["image"]).mean() > 0.01
    # without augmentation (validation) the twin is the resized image
    x, _, _ = SegmentationSequence(subset, batch_size=3, size=96, twin=True, shuffle=False)[0]
    np.testing.assert_array_equal(x["image"], x["twin"])


def test_mild_recipe_keeps_real_portraits_closer_to_their_framing(picsart):
    """The mild recipe's warps move less of the mask than the full recipe's, on real selfies."""
    from selfieseg.data.augment import AUGMENTATIONS, augmenter, resize_pair

    assert augmenter("none") is None and augmenter(None) is None
    assert isinstance(augmenter("mild"), Augmenter) and augmenter("mild").max_rotation < Augmenter().max_rotation
    custom = Augmenter(flip=0.0)
    assert augmenter(custom) is custom
    with pytest.raises(DatasetError, match="unknown augmentation 'crazy'.*full, mild, wide, none"):
        augmenter("crazy")
    assert set(AUGMENTATIONS) == {"full", "mild", "wide"}

    def mean_change(recipe):
        rng = np.random.default_rng(0)
        changes = []
        for index in range(40):
            sample = picsart[index]
            mask = sample.mask.astype(np.uint8) * 255
            _, plain, _ = resize_pair(sample.image, mask, None, (64, 64))
            _, moved, _ = augmenter(recipe)(sample.image, mask, None, rng, (64, 64))
            changes.append(np.mean((plain > 127) != (moved > 127)))
        return float(np.mean(changes))

    mild, full = mean_change("mild"), mean_change("full")
    assert 0 < mild < full, (mild, full)


def test_soft_labels_warp_with_the_mask_and_blend_into_the_target(tmp_path, picsart):
    """Distillation targets: the teacher's map moves exactly as the mask does, then blends in."""
    cache = build_cache(picsart.subset(range(6)), tmp_path / "cache", size=(64, 64), progress=False)
    masks = np.asarray(cache.masks)
    common = dict(batch_size=6, size=48, augment=True, seed=3, valid_channel=True)
    _, plain = SegmentationSequence(cache, **common)[0]
    # a teacher that agrees with the labels leaves every warped target as it was (up to
    # OpenCV's fixed-point interpolation, which rounds 2-channel warps a few levels apart)
    _, same = SegmentationSequence(cache, soft_labels=masks, distill=0.5, **common)[0]
    assert 0 < plain[..., 0].mean() < 1
    np.testing.assert_allclose(same, plain, atol=6 / 255)
    assert np.abs(same - plain).mean() < 1e-3
    # a teacher that contradicts every pixel pulls the target to 0.5 wherever the image is
    x, contrary = SegmentationSequence(cache, soft_labels=255 - masks, distill=0.5, batch_size=6, size=48,
                                       valid_channel=True, shuffle=False)[0]
    np.testing.assert_allclose(contrary[..., 0], 0.5, atol=1.5 / 255)  # resizing rounds each channel apart
    np.testing.assert_array_equal(contrary[..., 1], 1.0)  # the valid weight is untouched
    # the weight is the teacher's share: 0.25 gives 0.75 * mask + 0.25 * teacher
    _, quarter = SegmentationSequence(cache, soft_labels=255 - masks, distill=0.25, batch_size=6, size=48,
                                      valid_channel=True, shuffle=False)[0]
    _, hard = SegmentationSequence(cache, batch_size=6, size=48, valid_channel=True, shuffle=False)[0]
    np.testing.assert_allclose(quarter[..., 0], 0.75 * hard[..., 0] + 0.25 * (1 - hard[..., 0]), atol=1.5 / 255)
    with pytest.raises(DatasetError, match="compute them again"):
        SegmentationSequence(cache, soft_labels=masks[:3], distill=0.5)
    with pytest.raises(DatasetError, match=r"in \(0, 1\]"):
        SegmentationSequence(cache, soft_labels=masks, distill=0.0)
    with pytest.raises(DatasetError, match="need an ArrayCache"):
        SegmentationSequence(picsart.subset(range(6)), soft_labels=masks, distill=0.5)


def test_packed_cache_travels_small_and_unpacks_to_the_same_labels(tmp_path, picsart):
    """pack_cache/unpack_cache: masks and teacher maps exact, images close (WebP), much smaller."""
    from selfieseg.data.pipeline import pack_cache, unpack_cache

    cache = build_cache(picsart.subset(range(8)), tmp_path / "src" / "picsart_96", size=(96, 80), progress=False)
    rng = np.random.default_rng(0)
    teacher = rng.integers(0, 256, (8, 96, 80), dtype=np.uint8)
    np.save(cache.path / "teacher_demo_0123456789ab.npy", teacher)
    ignore = rng.random((8, 96, 80)) < 0.1  # a void map, as Pascal and Supervisely caches carry
    np.save(cache.path / "ignore.npy", ignore)
    cache = type(cache)(cache.path)
    packed = pack_cache(cache, tmp_path / "picsart.npz")
    raw = sum(f.stat().st_size for f in cache.path.glob("*.npy"))
    without = pack_cache(cache, tmp_path / "lean.npz", teachers=False)
    assert without.stat().st_size < packed.stat().st_size < raw
    assert not list(tmp_path.glob(".*"))  # written atomically, nothing left behind

    copy = unpack_cache(packed, tmp_path / "elsewhere")
    assert copy.path == tmp_path / "elsewhere" / "picsart_96" and copy.names == cache.names
    assert copy.meta == cache.meta
    np.testing.assert_array_equal(copy.masks, cache.masks)
    assert copy.ignore.dtype == bool
    np.testing.assert_array_equal(copy.ignore, ignore)
    np.testing.assert_array_equal(np.load(copy.path / "teacher_demo_0123456789ab.npy"), teacher)
    difference = np.abs(np.asarray(copy.images, np.float32) - np.asarray(cache.images, np.float32))
    assert copy.images.shape == cache.images.shape and 0 < difference.mean() < 4
    assert unpack_cache(packed, tmp_path / "elsewhere").path == copy.path  # an unpacked cache is reused
    assert not list(unpack_cache(without, tmp_path / "lean").path.glob("teacher_*"))

    with pytest.raises(DatasetError, match="ending in .npz"):
        pack_cache(cache, tmp_path / "picsart.zip")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(packed.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="broken.npz: not a packed selfieseg cache"):
        unpack_cache(broken, tmp_path / "x")
    damaged = bytearray(packed.read_bytes())
    damaged[len(damaged) // 3] ^= 0xFF  # one flipped byte inside the packed images
    (tmp_path / "damaged.npz").write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match="damaged.npz: .*damaged"):
        unpack_cache(tmp_path / "damaged.npz", tmp_path / "y")
    assert not (tmp_path / "y" / "picsart_96").exists() and not list((tmp_path / "y").glob(".*"))


def _detail(picture, where):
    """Mean absolute Laplacian (edges, texture) of ``picture`` over the pixels ``where``."""
    return np.abs(cv2.Laplacian(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[where].mean()


def test_smear_person_keeps_the_background_and_wipes_the_person(picsart):
    """On real selfies: background pixels untouched, the person's detail gone, no person colours left."""
    from selfieseg.data.augment import smear_person

    for index in (0, 7, 21):
        sample = picsart[index]
        image, mask = sample.image, sample.mask.astype(np.uint8) * 255
        filled = smear_person(image, mask)
        assert filled.shape == image.shape and filled.dtype == np.float32
        person = mask >= 128
        # 3% of 320 px widens the person by 4 px; beyond 8 px every pixel is the photo's own
        far = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 3) > 8
        np.testing.assert_allclose(filled[far], image[far].astype(np.float32))
        # inside, the face's and clothes' detail is gone: edges are a fraction of the original
        smeared = np.clip(filled, 0, 255).astype(np.uint8)
        assert _detail(smeared, person) < 0.3 * _detail(image, person)
        # each filled pixel is a weighted mean of background pixels: within their colour range
        background = image[~person].reshape(-1, 3)
        assert (filled[person] >= background.min(0) - 0.5).all() and (filled[person] <= background.max(0) + 0.5).all()
    # a photo that is all person becomes one flat colour, its mean
    image = picsart[0].image
    flat = smear_person(image, np.full(image.shape[:2], 255, np.uint8))
    np.testing.assert_allclose(flat, np.broadcast_to(image.reshape(-1, 3).mean(0), image.shape), rtol=1e-5)
    with pytest.raises(ValueError, match="differ in size"):
        smear_person(image, np.zeros((10, 10), np.uint8))


def test_composite_onto_keeps_the_person_and_replaces_the_rest():
    recipe = Augmenter(composite=1.0)
    image, background = np.full((40, 40, 3), 200, np.uint8), np.full((40, 40, 3), 50, np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    out = recipe.composite_onto(image, mask, background)
    assert (out[12:28, 12:28] == 200).all() and (out[:8] == 50).all() and (out[:, 32:] == 50).all()
    assert 50 < out[10, 20, 0] < 200  # the edge is feathered, not a hard cut
    # with a teacher's channel stacked on the label, what either calls person stays
    teacher = np.zeros_like(mask)
    teacher[:5, :5] = 255  # a second person the label leaves out
    kept = recipe.composite_onto(image, np.dstack([mask, teacher]), background)
    assert (kept[:4, :4] == 200).all() and (kept[12:28, 12:28] == 200).all() and (kept[:, 32:] == 50).all()
    np.testing.assert_array_equal(recipe.composite_onto(image, np.dstack([mask, mask]), background), out)
    with pytest.raises(ValueError, match="differ in size"):
        recipe.composite_onto(image, mask, background[:20])


def test_sequence_composites_backgrounds_borrowed_from_its_own_indices(tmp_path, picsart, monkeypatch):
    """Compositing on real data: the person and the targets stay, the background changes, and
    backgrounds come only from the sequence's own samples (a training split never borrows a
    validation photo)."""
    from selfieseg.data.augment import augmenter

    cache = build_cache(picsart.subset(range(8)), tmp_path / "cache", size=(64, 64), progress=False)
    still = dict(flip=0.0, affine_p=0.0, brightness=0, contrast=0, saturation=0, hue=0, blur=0, noise=0)
    common = dict(batch_size=4, size=64, shuffle=False, indices=[0, 1, 2, 3], valid_channel=True)
    x0, y0 = SegmentationSequence(cache, augment=Augmenter(**still), **common)[0]
    borrowed = []
    get = cache.get
    monkeypatch.setattr(cache, "get", lambda index: borrowed.append(index) or get(index))
    x1, y1 = SegmentationSequence(cache, augment=Augmenter(**still, composite=1.0), **common)[0]
    np.testing.assert_array_equal(y1, y0)  # labels are untouched
    person = y0[..., 0] > 0.99
    inside = np.stack([cv2.erode(p.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for p in person])
    outside = np.stack([cv2.erode((~p).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0 for p in person])
    assert inside.any() and outside.any()
    np.testing.assert_allclose(x1[inside], x0[inside], atol=2 / 255)
    assert np.abs(x1[outside] - x0[outside]).mean() > 0.05
    lent = borrowed[1::2]  # each example reads its own sample, then the one lending a background
    assert borrowed[::2] == [0, 1, 2, 3] and set(lent) <= {0, 1, 2, 3}
    assert all(other != own for own, other in zip([0, 1, 2, 3], lent))
    # under the full recipe too, compositing changes the backgrounds and nothing else: the
    # same geometry and texture draws, so the same warped labels
    full = dict(batch_size=4, size=64, seed=5, valid_channel=True)
    _, y_plain = SegmentationSequence(cache, augment=augmenter("full"), **full)[0]
    _, y_swapped = SegmentationSequence(cache, augment=augmenter("full", 1.0), **full)[0]
    np.testing.assert_array_equal(y_swapped, y_plain)
    # the recipe name plus a share; shares outside [0, 1], or compositing with no recipe, are refused
    assert augmenter("mild", 0.5).composite == 0.5 and augmenter("mild", 0.5).max_rotation == 15.0
    assert augmenter("full").composite == 0.0
    with pytest.raises(DatasetError, match=r"probability in \[0, 1\]"):
        augmenter("mild", 1.5)
    with pytest.raises(DatasetError, match="needs an augmentation recipe"):
        augmenter("none", 0.5)


class _First:
    """The first ``count`` samples of a real reader, under its own name (a small real dataset)."""

    def __init__(self, reader, count):
        self.reader, self.count = reader, count
        self.name, self.root, self.labelled = reader.name, reader.root, True

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        return self.reader[index]

    def __iter__(self):
        return (self[i] for i in range(self.count))


def test_dataset_weights_set_each_datasets_share_of_an_epoch(tmp_path, picsart, data_root):
    """60 selfies beside 12 VOC photos: unweighted, VOC is 1/6 of an epoch; weighted 1:1, about half."""
    from selfieseg.data import open_dataset

    voc = open_dataset("voc_person", data_root, split="train")
    cache = build_cache([_First(picsart, 60), _First(voc, 12)], tmp_path / "mix", size=(48, 48), progress=False)
    datasets = np.array([name.split("/")[0] for name in cache.names])

    def voc_share(weights, epochs=20):
        sequence = SegmentationSequence(cache, batch_size=8, size=32, source_weights=weights)
        drawn = []
        for _ in range(epochs):
            drawn.extend(sequence._order)
            assert len(sequence._order) == len(cache)  # an epoch keeps its length
            sequence.on_epoch_end()
        return float(np.mean(datasets[np.array(drawn)] == "voc_person"))

    assert voc_share(None, epochs=1) == pytest.approx(12 / 72)  # every sample once
    assert 0.44 < voc_share({"voc_person": 1.0, "picsart": 1.0}) < 0.56
    assert 0.70 < voc_share({"voc_person": 3.0}) < 0.80  # picsart left out: weight 1
    assert voc_share({"voc_person": 0.0}) == 0.0
    with pytest.raises(DatasetError, match="does not hold.*picsart"):
        SegmentationSequence(cache, source_weights={"ccp": 1.0})
    with pytest.raises(DatasetError, match=">= 0"):
        SegmentationSequence(cache, source_weights={"picsart": -1.0})
    # void (255) in the VOC masks is carried as zero pixel weight, so losses and metrics skip it
    x, y, w = SegmentationSequence(cache, batch_size=72, size=32, shuffle=False)[0]
    assert (w[datasets == "voc_person"] == 0).any() and (w[datasets == "picsart"] == 1).all()


def test_the_wide_recipe_shows_small_people_from_real_portraits(pfcn_test):
    """Zooms down to 0.2x: a PFCN half-body portrait (about 40% of the frame) becomes a
    person of a few percent, which portrait training never shows."""
    from selfieseg.data.augment import augmenter

    rng = np.random.default_rng(0)
    shares = {"full": [], "wide": []}
    for index in range(30):
        sample = pfcn_test[index]
        for recipe in shares:
            _, moved, _ = augmenter(recipe)(sample.image, sample.mask * np.uint8(255), None, rng, (96, 96))
            shares[recipe].append(float(np.mean(moved > 127)))
    assert min(shares["wide"]) < 0.05 and np.mean(np.array(shares["wide"]) < 0.10) > 0.15
    assert np.median(shares["wide"]) < np.median(shares["full"])
