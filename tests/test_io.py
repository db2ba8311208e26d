"""selfieseg.io: every odd image a user can bring reads right or fails with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from selfieseg.errors import ImageReadError, SelfieSegError
from selfieseg.io import atomic_path, binarize, read_image, read_mask, write_image


def _rgb(h=20, w=30):
    rng = np.random.default_rng(3)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = _rgb()[..., 0]
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)


def test_rgba_is_composited_over_black(tmp_path):
    rgba = np.dstack([_rgb(), np.full((20, 30), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (20, 30, 3)
    assert (out[:5] == 0).all()
    assert np.array_equal(out[5:], rgba[5:, :, :3])


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (20, 30, 3)
    assert np.abs(out.astype(int) - _rgb().astype(int)).mean() < 20


def test_16bit_png_scales_to_8bit(tmp_path):
    ramp = (np.linspace(0, 65535, 30)[None, :].repeat(20, 0)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    out = read_image(tmp_path / "d.png")
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0 and out[0, -1, 0] == 255


def test_exif_rotation_matches_what_a_viewer_shows(tmp_path):
    image = Image.fromarray(_rgb(20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = read_image(tmp_path / "phone.jpg")
    raw = read_image(tmp_path / "phone.jpg", exif=False)
    assert raw.shape == (20, 30, 3)
    assert upright.shape == (30, 20, 3)
    assert np.abs(upright.astype(int) - np.rot90(raw, -1).astype(int)).mean() < 3


@pytest.mark.parametrize(
    "content, message",
    [(b"", "0 bytes"), (b"not an image at all", "not a readable image")],
)
def test_empty_and_garbage_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg_is_reported(tmp_path):
    Image.fromarray(_rgb(200, 200)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.jpg")


def test_missing_file_and_huge_image(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        read_image(tmp_path / "nope.png")
    Image.fromarray(_rgb(100, 100)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match="more than the limit"):
        read_image(tmp_path / "big.png", max_pixels=5000)


def test_read_mask_keeps_palette_indices_and_binarize_handles_both_scales(tmp_path):
    classes = np.array([[0, 15], [255, 3]], np.uint8)
    palette = Image.fromarray(classes, "P")
    palette.putpalette([i % 256 for i in range(768)])
    palette.save(tmp_path / "p.png")
    assert np.array_equal(read_mask(tmp_path / "p.png"), classes)
    assert np.array_equal(binarize(np.array([[0, 255]], np.uint8)), [[0, 1]])
    assert np.array_equal(binarize(np.array([[0, 1]], np.uint8)), [[0, 1]])


def test_atomic_write_leaves_nothing_on_failure_and_refuses_to_overwrite_input(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    source = tmp_path / "in.png"
    write_image(source, _rgb())
    before = source.read_bytes()
    with pytest.raises(SelfieSegError, match="same file as the input"):
        write_image(source, _rgb()[::-1], inputs=[source])
    assert source.read_bytes() == before
