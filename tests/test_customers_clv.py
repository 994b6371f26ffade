"""Lifetime value: BG/NBD and Gamma-Gamma against lifetimes' published CDNOW parameters."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storemind.customers import BGNBD, GammaGamma, customer_lifetime_value, rfm_summary
from storemind.errors import DataError


@pytest.fixture(scope="module")
def cdnow_sample(data_dir: Path) -> pd.DataFrame:
    tx = pd.read_csv(data_dir / "cdnow" / "CDNOW_sample.txt.gz", sep=r"\s+", header=None,
                     names=["user_id", "sample_id", "date", "cds", "value"], dtype={"date": str})
    tx["ts"] = pd.to_datetime(tx.date)
    return rfm_summary(tx, calibration_end="1997-09-30", holdout_end="1998-06-30")


def test_bgnbd_matches_lifetimes_on_cdnow_summary(data_dir: Path) -> None:
    # Golden numbers: lifetimes 0.11 docs, BetaGeoFitter().fit(...) on
    # load_cdnow_summary() -> r=0.243, alpha=4.414, a=0.793, b=2.426 (within 1%)
    s = pd.read_csv(data_dir / "cdnow" / "cdnow_customers_summary.csv")
    m = BGNBD().fit(s.frequency, s.recency, s["T"])
    got = m.r_alpha_a_b
    for name, want in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert got[name] == pytest.approx(want, rel=0.01), name
    assert m.log_likelihood_ == pytest.approx(-9582.43, abs=0.1)  # FHL (2005) Table: LL -9582.4


def test_summary_from_transactions_reproduces_the_published_summary(
    cdnow_sample: pd.DataFrame, data_dir: Path
) -> None:
    published = pd.read_csv(data_dir / "cdnow" / "cdnow_customers_summary.csv")
    assert len(cdnow_sample) == len(published) == 2357
    np.testing.assert_allclose(np.sort(cdnow_sample.frequency), np.sort(published.frequency))
    np.testing.assert_allclose(cdnow_sample.frequency.sum(), published.frequency.sum())
    np.testing.assert_allclose(np.sort(cdnow_sample["T"]), np.sort(published["T"]), atol=1 / 7)


def test_gamma_gamma_matches_lifetimes(cdnow_sample: pd.DataFrame) -> None:
    # Golden numbers: lifetimes docs, GammaGammaFitter().fit(frequency, monetary_value) on the
    # CDNOW sample's repeat customers -> p=6.25, q=3.74, v=15.45 (within 1%)
    g = GammaGamma().fit(cdnow_sample.frequency, cdnow_sample.monetary_value)
    got = g.p_q_v
    for name, want in {"p": 6.25, "q": 3.74, "v": 15.45}.items():
        assert got[name] == pytest.approx(want, rel=0.01), name


def test_predictions_track_the_holdout(cdnow_sample: pd.DataFrame) -> None:
    s = cdnow_sample
    m = BGNBD().fit(s.frequency, s.recency, s["T"])
    pred = m.predict(39, s.frequency, s.recency, s["T"])
    # measured (this test's own numbers, 2026-11-28): 1,653 predicted vs 1,882 actual
    # purchase-days in the 39-week holdout: BG/NBD under-forecasts this cohort by ~12%
    assert pred.sum() == pytest.approx(1653.4, rel=0.005)
    assert 0.80 < pred.sum() / s.frequency_holdout.sum() < 1.0
    # customers predicted to buy more do buy more
    top = pred >= np.quantile(pred, 0.9)
    assert s.frequency_holdout[top].mean() > 4 * s.frequency_holdout[~top].mean()
    alive = m.probability_alive(s.frequency, s.recency, s["T"])
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[s.frequency == 0] == 1.0)
    g = GammaGamma().fit(s.frequency, s.monetary_value)
    clv = customer_lifetime_value(m, g, s.frequency, s.recency, s["T"], s.monetary_value,
                                  months=12, discount_rate=0.01)
    assert np.all(clv >= 0)
    assert np.corrcoef(clv, s.frequency_holdout * s.monetary_value_holdout)[0, 1] > 0.4


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="recency must not exceed T"):
        BGNBD().fit([1, 2], [5, 3], [4, 4])
    with pytest.raises(DataError, match="missing or infinite"):
        BGNBD().fit([1, np.nan], [1, 1], [2, 2])
    with pytest.raises(DataError, match="same length"):
        BGNBD().fit([1, 2], [1], [2, 2])
    with pytest.raises(DataError, match="repeat purchases"):
        GammaGamma().fit([0, 0], [0, 0])
