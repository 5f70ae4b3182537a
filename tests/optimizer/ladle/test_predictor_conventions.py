"""The ladle-furnace predictors and the stage model follow scikit-learn's estimator conventions: ``clone`` copies
the hyper-parameters, an unfitted one says so, fitted attributes appear in ``fit`` only."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from optimizer.ladle.model import TARGET
from optimizer.ladle.predictors import KINDS, make_predictor
from optimizer.ladle.stage_model import StageModel


@pytest.mark.parametrize("kind", KINDS)
def test_predictors_clone_and_say_when_unfitted(kind):
    predictor = make_predictor(kind)
    copy = clone(predictor)
    assert copy is not predictor and copy.get_params() == predictor.get_params()
    assert copy.kind == kind and copy.decided_at == predictor.decided_at
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)


def test_stage_model_clones_with_its_parameters():
    model = clone(StageModel(residual=False, random_state=3))
    assert model.get_params() == {"residual": False, "random_state": 3}
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_a_fitted_predictor_is_fitted_and_its_clone_is_not():
    heats = pd.DataFrame({"heat_id": ["1", "2", "3"], TARGET: [1590.0, 1600.0, 1610.0]})
    fitted = make_predictor("mean").fit(heats, pd.DataFrame())
    check_is_fitted(fitted)
    assert fitted.predict(heats, pd.DataFrame()).tolist() == [1600.0] * 3
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(fitted))
