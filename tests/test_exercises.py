"""The self-checks accept the worked solutions and reject wrong or missing answers."""

import numpy as np

from dip_helpers import exercises
from dip_helpers.solutions import nb00


def test_psnr_check(capsys):
    assert exercises.check_psnr(nb00.my_psnr) is True
    assert exercises.check_psnr(lambda x, y: 10 * np.log10(1 / np.mean(np.abs(x - y)))) is False
    assert exercises.check_psnr(lambda x, y: None) is None
    out = capsys.readouterr().out
    assert "✅" in out and "❌" in out and "⏳" in out


def test_sigma_check():
    assert exercises.check_sigma_for_psnr(nb00.SIGMA_30DB, 30) is True
    assert exercises.check_sigma_for_psnr(25, 30) is False
    assert exercises.check_sigma_for_psnr(None, 30) is None
