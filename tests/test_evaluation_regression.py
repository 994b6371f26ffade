"""Regression and forecast metrics: known answers, scikit-learn agreement, properties."""
from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.evaluation import mae, mase, rmse, wape, wmae


def test_known_answers() -> None:
    y, yhat = [1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 1.0, 4.0]
    assert mae(y, yhat) == pytest.approx(0.75)
    assert rmse(y, yhat) == pytest.approx(np.sqrt(5 / 4))
    assert wape(y, yhat) == pytest.approx(3 / 10)
    # Walmart-style: the holiday week (weight 5) has error 2, the others 1, 0, 0
    assert wmae(y, yhat, [1, 1, 5, 1]) == pytest.approx((1 + 10) / 8)


def test_mase_by_hand() -> None:
    train = [1.0, 3.0, 2.0, 4.0, 3.0, 5.0]
    # naive (season 1) in-sample errors 2, 1, 2, 1, 2 -> scale 1.6; forecast MAE 0.8 -> 0.5
    assert mase([6.0, 7.0], [5.2, 7.8], train) == pytest.approx(0.8 / 1.6)
    # season 2: errors |2-1|, |4-3|, |3-2|, |5-4| -> scale 1; MAE 0.8
    assert mase([6.0, 7.0], [5.2, 7.8], train, season=2) == pytest.approx(0.8)
    # the seasonal naive forecast itself scores exactly its out-of-sample/in-sample ratio
    assert mase([4.0, 6.0], [3.0, 5.0], train, season=2) == pytest.approx(1.0)


@st.composite
def pairs(draw):
    n = draw(st.integers(1, 50))
    values = st.floats(-1e3, 1e3, allow_nan=False)
    y = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    yhat = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    return y, yhat


@settings(max_examples=80, deadline=None)
@given(pairs())
def test_match_sklearn_and_basic_properties(data) -> None:
    y, yhat = data
    assert mae(y, yhat) == pytest.approx(skm.mean_absolute_error(y, yhat), abs=1e-9)
    assert rmse(y, yhat) == pytest.approx(np.sqrt(skm.mean_squared_error(y, yhat)), abs=1e-9)
    assert mae(y, y) == 0.0 and rmse(y, y) == 0.0
    assert mae(y, yhat) <= rmse(y, yhat) + 1e-9
    assert wmae(y, yhat, np.full(len(y), 3.0)) == pytest.approx(mae(y, yhat))
    if np.abs(y).sum() > 0:
        assert wape(y, yhat) == pytest.approx(np.abs(y - yhat).sum() / np.abs(y).sum())


def test_errors_are_clear() -> None:
    with pytest.raises(DataError, match="one length"):
        mae([1, 2], [1])
    with pytest.raises(DataError, match="more than season=4"):
        mase([1], [1], [1, 2, 3], season=4)
    with pytest.raises(DataError, match="MASE is undefined"):
        mase([1], [1], [2, 2, 2])
    with pytest.raises(DataError, match="every actual value is 0"):
        wape([0, 0], [1, 1])
    with pytest.raises(DataError, match="weights: expected length 2"):
        wmae([1, 2], [1, 2], [1])
    with pytest.raises(DataError, match="NaN"):
        rmse([1, np.nan], [1, 2])
    with pytest.raises(DataError, match="season"):
        mase([1], [1], [1, 2, 3], season=0)
