"""The surrogate structures follow scikit-learn's estimator conventions: ``__init__`` stores hyper-parameters
only, fitted attributes (trailing underscore) appear in ``fit``, ``clone`` gives an unfitted copy with the same
parameters, ``check_is_fitted`` tells fitted from unfitted, and a pickle round trip predicts the same."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from optimizer.config import PlantConfig
from optimizer.surrogates.features import decision_features
from optimizer.surrogates.prior import TEMPERATURE
from optimizer.surrogates.residual import ResidualStructure
from optimizer.surrogates.structures import (
    ContextEncoder,
    ContextHeatBalance,
    ContextRecovery,
    EnergyBalance,
    FixedYield,
)
from optimizer.surrogates.train import PriorHeatBalance
from tests.optimizer.surrogates.conftest import synthetic_heats

MN = "final_Mn_wt_pct"


@pytest.fixture(scope="module")
def heats(cfg: PlantConfig) -> pd.DataFrame:
    return synthetic_heats(cfg, 200, seed=3)


def _structures(cfg: PlantConfig) -> dict[str, tuple[Callable[[], BaseEstimator], str]]:
    """Every structure training can choose, unfitted, with the outcome it predicts."""
    dec = decision_features(cfg)
    feats = ["grade", "initial_oxygen_ppm", *dec]
    return {
        "fixed_yield": (lambda: FixedYield.build(cfg, "Mn"), MN),
        "context_recovery": (lambda: ContextRecovery.build(cfg, "Mn", alpha=0.05), MN),
        "heat_balance": (lambda: ContextHeatBalance.build(dec), TEMPERATURE),
        "energy_balance": (lambda: EnergyBalance.build(dec), TEMPERATURE),
        "prior_heat_balance": (lambda: PriorHeatBalance(cfg), TEMPERATURE),
        "context_recovery+forest": (lambda: ResidualStructure(ContextRecovery.build(cfg, "Mn"), "forest",
                                                              feats, decisions=dec), MN),
    }


NAMES = ["fixed_yield", "context_recovery", "heat_balance", "energy_balance", "prior_heat_balance",
         "context_recovery+forest"]


@pytest.mark.parametrize("name", NAMES)
def test_structure_follows_scikit_learn_conventions(cfg, heats, name):
    make, outcome = _structures(cfg)[name]
    y = heats[outcome].to_numpy(float)
    s = make()
    assert isinstance(s, BaseEstimator)
    params = s.get_params(deep=False)
    with pytest.raises(NotFittedError):
        check_is_fitted(s)
    with pytest.raises(NotFittedError):
        s.predict(heats)
    fitted = s.fit(heats, y)
    assert fitted is s
    check_is_fitted(s)
    assert s.get_params(deep=False).keys() == params.keys()  # fit changes no hyper-parameter
    assert all(s.get_params(deep=False)[k] is v for k, v in params.items())

    copy = clone(s)
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    assert {k: repr(v) for k, v in copy.get_params(deep=False).items()} == {k: repr(v) for k, v in params.items()}
    pred = s.predict(heats)
    np.testing.assert_array_equal(copy.fit(heats, y).predict(heats), pred)
    context = heats.iloc[0].to_dict()
    assert copy.linear_terms(context) == s.linear_terms(context)

    loaded = pickle.loads(pickle.dumps(s))
    check_is_fitted(loaded)
    np.testing.assert_array_equal(loaded.predict(heats), pred)


def test_a_fitted_copy_leaves_the_parameters_unfitted(cfg, heats):
    """Sub-estimators given as parameters (the encoder, a residual's base) are cloned in ``fit``, never fitted in
    place: the parameter stays as the user built it."""
    enc = ContextEncoder(["initial_oxygen_ppm", "steel_weight_t"])
    s = ContextRecovery.build(cfg, "Mn").set_params(encoder=enc).fit(heats, heats[MN].to_numpy(float))
    with pytest.raises(NotFittedError):
        check_is_fitted(enc)
    check_is_fitted(s.encoder_)
    base = ContextRecovery.build(cfg, "Mn")
    r = ResidualStructure(base, "forest", ["grade", "initial_oxygen_ppm"], seed=1).fit(heats, heats[MN].to_numpy(float))
    with pytest.raises(NotFittedError):
        check_is_fitted(base)
    assert r.base_ is not base and r.name == "context_recovery+forest"
    with pytest.raises(NotFittedError):
        enc.transform(heats)


def test_encoder_fits_grades_and_scales(heats):
    enc = ContextEncoder(["initial_oxygen_ppm"])
    assert enc.get_params() == {"numeric": ["initial_oxygen_ppm"]}
    x = enc.fit_transform(heats)
    assert enc.grades_ == sorted(heats["grade"].unique())
    assert x.shape == (len(heats), 1 + len(enc.grades_))
    np.testing.assert_allclose(x[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_array_equal(enc.transform_one(heats.iloc[5].to_dict()), x[5])


class _OldLayout:
    """Pickles to ``cls`` with ``state`` as its ``__dict__`` (what the old dataclasses' pickles held)."""

    def __init__(self, cls: type, state: dict) -> None:
        self.cls, self.state = cls, state

    def __reduce__(self) -> tuple:
        return (object.__new__, (self.cls,), self.state)


def test_structures_pickled_in_the_old_layout_still_predict_the_same(cfg, heats):
    y = heats[MN].to_numpy(float)
    new = ContextRecovery.build(cfg, "Mn").fit(heats, y)
    enc = new.encoder_
    old_enc = {"numeric": enc.numeric, "grades": enc.grades_, "mean_": enc.mean_, "scale_": enc.scale_,
               "fill_": enc.fill_}
    old = pickle.loads(pickle.dumps(_OldLayout(ContextRecovery, {
        "element": "Mn", "gain": new.gain, "encoder": _OldLayout(ContextEncoder, old_enc), "alpha": 1.0,
        "name": "context_recovery", "ridge_": new.ridge_, "p_scale_": new.p_scale_})))
    check_is_fitted(old)
    np.testing.assert_array_equal(old.predict(heats), new.predict(heats))
    unfitted = pickle.loads(pickle.dumps(_OldLayout(ContextRecovery, {
        "element": "Mn", "gain": new.gain, "encoder": _OldLayout(ContextEncoder, {
            "numeric": list(enc.numeric), "grades": [], "mean_": {}, "scale_": {}, "fill_": {}}),
        "alpha": 1.0, "name": "context_recovery", "ridge_": None, "p_scale_": 1.0})))
    with pytest.raises(NotFittedError):
        check_is_fitted(unfitted)
    np.testing.assert_array_equal(unfitted.fit(heats, y).predict(heats), new.predict(heats))
    fixed = FixedYield.build(cfg, "Mn")
    old_fixed = pickle.loads(pickle.dumps(_OldLayout(FixedYield, {"element": "Mn", "gain": fixed.gain,
                                                                  "name": "fixed_yield"})))
    np.testing.assert_array_equal(old_fixed.predict(heats), fixed.fit(heats, y).predict(heats))
