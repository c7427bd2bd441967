"""The radial spectrum and the band residuals on images whose spectrum is known: sinusoids."""

import numpy as np
import pytest

from dip_helpers.spectrum import band_residuals, octave_bands, radial_spectrum

SIDE = 64


def sinusoid(cycles, side=SIDE, angle=0.0, amplitude=0.25):
    """A plane wave of `cycles` periods across the image, in [0.25, 0.75] for the default amplitude, grey in RGB."""
    yy, xx = np.indices((side, side)) / side
    wave = 0.5 + amplitude * np.cos(2 * np.pi * cycles * (np.cos(angle) * xx + np.sin(angle) * yy))
    return np.repeat(wave[..., None], 3, axis=-1)


@pytest.mark.parametrize("cycles, angle", [(3, 0.0), (9, np.pi / 2), (5, 0.0)])
def test_radial_spectrum_peaks_at_the_waves_frequency(cycles, angle):
    s = radial_spectrum(sinusoid(cycles, angle=angle))
    assert s.shape == (SIDE // 2 - 1,)  # frequencies 1 .. side / 2 - 1
    assert int(np.argmax(s)) + 1 == cycles
    # all of the wave's power (side^4 a^2 / 2 in numpy's FFT scaling, a = 0.25) sits at that one radius
    ring = np.count_nonzero(np.rint(np.hypot(*np.meshgrid(np.fft.fftfreq(SIDE) * SIDE, np.fft.fftfreq(SIDE) * SIDE)))
                            == cycles)  # fmt: skip
    assert s[cycles - 1] * ring == pytest.approx(SIDE**4 * 0.25**2 / 2, rel=1e-9)
    assert np.delete(s, cycles - 1).max() < 1e-12 * s.max()


def test_radial_spectrum_of_white_noise_is_flat():
    noise = np.random.default_rng(0).random((256, 256))
    s = radial_spectrum(noise)
    # flat within the spread of an average over each ring (the inner rings hold few coefficients)
    assert 0.8 < np.median(s[60:]) / np.median(s[10:40]) < 1.25


def test_octave_bands():
    assert octave_bands(128) == [(1, 4), (4, 8), (8, 16), (16, 32), (32, 64)]
    assert octave_bands(32) == [(1, 4), (4, 8), (8, 16)]
    with pytest.raises(ValueError, match="at least 16"):
        octave_bands(8)


def test_band_residuals_of_a_sinusoid():
    bands = octave_bands(SIDE)
    low, high = sinusoid(2), sinusoid(20) - 0.5  # one wave in the band (1, 4), one in (16, 32)
    target = low + high
    # nothing fitted: 1 in the two bands that hold power, nan where the target has none
    nothing = band_residuals(target, np.full_like(target, 0.5), bands)
    np.testing.assert_allclose(nothing[[0, 3]], 1.0)
    assert np.isnan(nothing[[1, 2]]).all()
    np.testing.assert_allclose(band_residuals(target, target, bands)[[0, 3]], 0.0, atol=1e-20)
    # the low wave fitted, the high one not: the first band is done, the fourth untouched
    np.testing.assert_allclose(band_residuals(target, low, bands)[[0, 3]], [0.0, 1.0], atol=1e-20)
    # half of the high wave's amplitude: a quarter of its power is missing
    np.testing.assert_allclose(band_residuals(target, low + high / 2, bands)[3], 0.25)
    # a wave the target does not hold changes no band the target has power in (its own band stays nan)
    extra = band_residuals(target, target + sinusoid(6) - 0.5, bands)
    np.testing.assert_allclose(extra[[0, 3]], 0.0, atol=1e-20)
    assert np.isnan(extra[[1, 2]]).all()


def test_band_residuals_refuses_different_shapes():
    with pytest.raises(ValueError, match="same shape"):
        band_residuals(np.zeros((16, 16, 3)), np.zeros((16, 16, 1)), octave_bands(16))
