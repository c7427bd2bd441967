"""Loading, shaping and noising images."""

import numpy as np
import pytest
from PIL import Image

import dip_helpers as dh


def test_course_images_load_by_name_as_float_hwc():
    for name in dh.available_images():
        img = dh.load_image(name)
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[-1] in (1, 3)
        assert 0.0 <= img.min() and img.max() <= 1.0 and img.max() > 0.5
    assert dh.load_image("astronaut").shape == (512, 512, 3)
    assert dh.load_image("camera").shape == (512, 512, 1)


def test_values_match_the_file_divided_by_255():
    raw = np.asarray(Image.open(dh.data_dir() / "coffee.png"))
    assert np.allclose(dh.load_image("coffee"), raw / 255.0, atol=1e-7)


def test_missing_file_names_path_and_available_images():
    with pytest.raises(FileNotFoundError) as info:
        dh.load_image("no_such_picture")
    msg = str(info.value)
    assert "no_such_picture" in msg and "astronaut" in msg and "camera" in msg
    with pytest.raises(FileNotFoundError, match="holiday.jpg"):
        dh.load_image("/tmp/nowhere/holiday.jpg")


def test_unreadable_file_says_so(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="broken.png"):
        dh.load_image(bad)


def test_grey_rgba_palette_and_16bit_files(tmp_path):
    rng = np.random.default_rng(0)
    rgb = (rng.random((20, 30, 3)) * 255).astype(np.uint8)

    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    grey = dh.load_image(tmp_path / "grey.png")
    assert grey.shape == (20, 30, 1) and np.allclose(grey[..., 0], rgb[..., 0] / 255)
    assert dh.load_image(tmp_path / "grey.png", channels=3).shape == (20, 30, 3)

    rgba = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])
    rgba[0, 0, 3] = 0  # one fully transparent pixel: becomes white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    img = dh.load_image(tmp_path / "rgba.png")
    assert img.shape == (20, 30, 3)
    assert np.allclose(img[0, 0], 1.0) and np.allclose(img[1:], rgb[1:] / 255, atol=1e-6)

    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16).save(tmp_path / "pal.png")
    pal = dh.load_image(tmp_path / "pal.png")
    expected = np.asarray(Image.open(tmp_path / "pal.png").convert("RGB")) / 255
    assert pal.shape == (20, 30, 3) and np.allclose(pal, expected, atol=1e-6)

    deep = (rng.random((20, 30)) * 65535).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    img16 = dh.load_image(tmp_path / "deep.png")
    assert img16.shape == (20, 30, 1) and np.allclose(img16[..., 0], deep / 65535, atol=1e-6)


def test_16bit_colour_keeps_its_precision(tmp_path):
    import tifffile

    deep = (np.random.default_rng(1).random((8, 9, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "deep_rgb.tif", deep, photometric="rgb")
    img = dh.load_image(tmp_path / "deep_rgb.tif")
    assert img.shape == (8, 9, 3) and np.allclose(img, deep / 65535, atol=1e-6)


def test_to_float_image_conversions_and_errors():
    assert dh.to_float_image(np.array([[True, False]])).shape == (1, 2, 1)
    assert dh.to_float_image(np.ones((4, 4, 3)), channels=1).shape == (4, 4, 1)
    lum = dh.to_float_image(np.dstack([np.ones((2, 2)), np.zeros((2, 2)), np.zeros((2, 2))]), channels=1)
    assert np.allclose(lum, 0.299)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dh.to_float_image(np.full((2, 2), 3.0))
    with pytest.raises(ValueError, match="NaN"):
        dh.to_float_image(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="shape"):
        dh.to_float_image(np.zeros((2, 2, 5)))
    with pytest.raises(TypeError, match="dtype"):
        dh.to_float_image(np.zeros((2, 2), dtype=np.complex64))


def test_size_crops_to_aspect_then_resizes():
    img = dh.load_image("coffee", size=64)  # 400x600 -> centre 400x400 -> 64x64
    assert img.shape == (64, 64, 3) and img.dtype == np.float32
    assert dh.load_image("coffee", size=(40, 60)).shape == (40, 60, 3)
    flat = np.full((50, 70, 3), 0.25, np.float32)
    assert np.allclose(dh.resize_image(flat, 20), 0.25, atol=1e-5)  # a constant stays constant
    with pytest.raises(ValueError, match="size"):
        dh.load_image("coffee", size=0)


def test_fit_to_multiple_crop_and_pad():
    img = np.random.default_rng(0).random((45, 70, 3)).astype(np.float32)
    c = dh.fit_to_multiple(img, 32, "crop")
    assert c.shape == (32, 64, 3)
    assert np.array_equal(c, img[6:38, 3:67])  # the centre is kept
    p = dh.fit_to_multiple(img, 32, "pad")
    assert p.shape == (64, 96, 3) and np.array_equal(p[:45, :70], img)
    assert np.array_equal(p[45, :70], img[44])  # mirrored, not zero
    assert dh.fit_to_multiple(img, 5, "crop").shape == (45, 70, 3)
    with pytest.raises(ValueError, match="pad"):
        dh.fit_to_multiple(img[:10], 32, "crop")
    with pytest.raises(ValueError):
        dh.fit_to_multiple(img, 0)
    with pytest.raises(ValueError, match="mode"):
        dh.fit_to_multiple(img, 4, "stretch")


def test_noise_is_seeded_and_has_the_asked_level():
    shape = (256, 256, 3)
    a = dh.gaussian_noise(shape, 25, seed=3)
    assert np.array_equal(a, dh.gaussian_noise(shape, 25, seed=3))
    assert not np.array_equal(a, dh.gaussian_noise(shape, 25, seed=4))
    assert abs(a.std() * 255 - 25) < 0.3 and abs(a.mean()) < 2e-3
    flat = np.full(shape, 0.5, np.float32)
    noisy = dh.add_gaussian_noise(flat, 25, seed=3, clip=False)
    assert np.allclose(noisy - flat, a, atol=1e-6)
    clipped = dh.add_gaussian_noise(flat, 200, seed=3)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    for bad in (-1, 300, float("nan")):
        with pytest.raises(ValueError, match="0-255"):
            dh.gaussian_noise(shape, bad)
    with pytest.warns(UserWarning, match="Did you mean"):
        dh.gaussian_noise(shape, 0.1)


def test_save_then_load_round_trips(tmp_path):
    img = dh.load_image("chelsea", size=32)
    back = dh.load_image(dh.save_image(img, tmp_path / "sub" / "c.png"))
    assert np.abs(back - img).max() <= 0.5 / 255 + 1e-6


def test_jpeg_compress_makes_blocks_that_fall_on_the_8x8_grid():
    x = dh.load_image("astronaut", size=128)
    low, high = dh.jpeg_compress(x, 10), dh.jpeg_compress(x, 95)
    assert low.shape == x.shape and low.dtype == np.float32
    assert dh.psnr(x, high) > 32 > 26 > dh.psnr(x, low) > 20  # quality 10 loses much more than 95
    # blocking: the jump between neighbouring columns is larger across a block's edge than inside a block
    jumps = np.abs(np.diff(low.mean(-1), axis=1)).mean(0)  # column k: between columns k and k + 1
    across = jumps[7::8].mean()
    inside = np.delete(jumps, np.s_[7::8]).mean()
    clean = np.abs(np.diff(x.mean(-1), axis=1)).mean(0)
    assert across > 1.3 * inside
    assert clean[7::8].mean() < 1.1 * np.delete(clean, np.s_[7::8]).mean()  # the clean image has no such grid
    grey = dh.jpeg_compress(x[..., :1], 10)
    assert grey.shape == (128, 128, 1)


@pytest.mark.parametrize("quality", [0, 96, 10.5, "10"])
def test_jpeg_compress_refuses_a_quality_outside_1_to_95(quality):
    with pytest.raises(ValueError, match="1..95"):
        dh.jpeg_compress(np.zeros((8, 8, 3), np.float32), quality)
