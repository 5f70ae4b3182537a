"""Surrogates on a synthetic canonical table with known physics: splits, learned recovery, residual structures,
monotone conformal widths, applicability domain."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory

from optimizer.embedding import add_predictor_constr
from optimizer.surrogates import SampleWidths, train_surrogates
from optimizer.surrogates.conformal import pool_counts
from optimizer.surrogates.features import holdout_split, time_order, time_splits
from optimizer.surrogates.residual import RESIDUAL_KINDS, ResidualStructure, residual_pipeline
from optimizer.surrogates.structures import ContextRecovery
from optimizer.surrogates.train import RESIDUAL_MARGIN, choose
from tests.optimizer.surrogates.conftest import RECOVERY_SLOPE, mn_only, synthetic_heats


def test_cv_folds_never_validate_on_the_past(synthetic):
    df = time_order(synthetic)  # the fixture's rows are shuffled
    times = df["start_time"].to_numpy()
    folds = list(time_splits(len(df), n_folds=4))
    assert len(folds) == 4
    for train, val in folds:
        assert times[train].max() < times[val].min()
        assert train.min() == 0  # expanding window from the first heat
    tr, cal, te = holdout_split(len(df))
    assert times[tr].max() < times[cal].min() and times[cal].max() < times[te].min()
    with pytest.raises(ValueError, match="too few"):
        list(time_splits(5, n_folds=4))


def test_context_recovery_learns_the_true_oxygen_effect(cfg, synthetic):
    df = time_order(synthetic)
    s = ContextRecovery.build(cfg, "Mn", alpha=0.05).fit(df, df["final_Mn_wt_pct"].to_numpy())
    probe = df.head(50).copy()
    for o2 in (200.0, 400.0, 600.0):
        probe["initial_oxygen_ppm"] = o2
        k = s.recovery_multiplier(probe)
        assert np.median(k) == pytest.approx(1 + RECOVERY_SLOPE * (o2 - 400.0), abs=0.03), o2


def test_linear_terms_reproduce_predict_synthetic(cfg, synthetic):
    sset, _ = train_surrogates(cfg, synthetic)
    rows = synthetic.head(20)
    for outcome, sur in sset.outcomes.items():
        assert sur.decision_linear
        pred = sur.predict(rows)
        for i, row in enumerate(rows.to_dict("records")):
            const, coefs = sur.linear_terms({k: row[k] for k in sur.context_features})
            assert set(coefs) <= set(sur.decision_features)
            lin = const + sum(c * float(row[d]) for d, c in coefs.items())
            assert lin == pytest.approx(pred[i], rel=1e-9, abs=1e-12), outcome


def test_intervals_cover_nominal_and_shrink_with_samples(cfg):
    heats = synthetic_heats(cfg, 2000, seed=11)
    sset, report = train_surrogates(cfg, heats)
    for el in ("Mn", "Si", "Al", "C"):
        o = f"final_{el}_wt_pct"
        assert 0.85 <= report.test[o]["coverage_90"] <= 0.95, (o, report.test[o])
        hw = [sset.outcomes[o].halfwidth(n, 0.9) for n in (1, 2, 3, 4)]
        assert all(a >= b for a, b in zip(hw, hw[1:], strict=False)), hw
        assert hw[0] > 1.3 * hw[-1]  # truth: sd ~ 1/sqrt(n), so 1 sample is ~2x 4 samples


@pytest.mark.parametrize("seed", range(5))
def test_widths_monotone_in_samples_and_thin_groups_pooled(seed):
    rng = np.random.default_rng(seed)
    n = rng.choice([1, 2, 3, 4, 5, 6], 400, p=[0.03, 0.3, 0.3, 0.3, 0.04, 0.03])
    res = np.abs(rng.normal(0, 1, 400)) * (1 + rng.uniform(-0.3, 0.3, 6)[n - 1])  # noisy, not monotone per n
    w = SampleWidths.fit(res, n)
    for conf in (0.8, 0.9, 0.95, 0.99):
        hw = [w.halfwidth(k, conf) for k in range(0, 8)]
        assert all(a >= b - 1e-12 for a, b in zip(hw, hw[1:], strict=False)), (conf, hw)
    groups = pool_counts(n, 30)
    assert sum(groups, []) == sorted(set(n.tolist()))
    assert all(np.isin(n, g).sum() >= 30 for g in groups)
    assert w.halfwidth(3, 0.95) > w.halfwidth(3, 0.9) > w.halfwidth(3, 0.8)


def test_choose_prefers_linear_unless_residual_clearly_better():
    scores = {"fixed_yield": 1.0, "context_recovery": 0.80, "context_recovery+gbm": 0.79}
    assert choose(scores, "final_Mn_wt_pct") == "context_recovery"
    scores["context_recovery+gbm"] = 0.80 * (1 - RESIDUAL_MARGIN) - 1e-6
    assert choose(scores, "final_Mn_wt_pct") == "context_recovery+gbm"


@pytest.mark.parametrize("kind", RESIDUAL_KINDS)
def test_residual_structure_is_embeddable_and_exact(cfg, synthetic, kind):
    """The residual Pipeline embeds with the context fixed and the embedded output equals ``predict``."""
    df = time_order(synthetic)
    feats = ["grade", "steel_weight_t", "initial_oxygen_ppm", "add_HC_FeMn_kg", "add_SiMn_kg"]
    s = ResidualStructure(ContextRecovery.build(cfg, "Mn"), kind, feats).fit(df, df["final_Mn_wt_pct"].to_numpy())
    assert list(s.model_.feature_names_in_) == feats
    row = df.iloc[7]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(["add_HC_FeMn_kg", "add_SiMn_kg"], bounds=(0, 1500))
    m.x["add_HC_FeMn_kg"].fix(float(row["add_HC_FeMn_kg"]))
    m.x["add_SiMn_kg"].fix(float(row["add_SiMn_kg"]))
    m.out = pyo.Var()
    m.blk = pyo.Block()
    inputs = {f: (m.x[f] if f.startswith("add_") else row[f]) for f in feats}
    add_predictor_constr(m.blk, s.model_, inputs, m.out)
    m.obj = pyo.Objective(expr=m.out)
    SolverFactory("highs").solve(m)
    expected = float(s.model_.predict(df.iloc[[7]][feats])[0])
    assert pyo.value(m.out) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    lin_const, coefs = s.linear_terms(row[["grade", "steel_weight_t", "initial_Mn_wt_pct",
                                           "initial_oxygen_ppm", "initial_temperature_degC"]].to_dict())
    full = lin_const + sum(c * float(row[d]) for d, c in coefs.items()) + expected
    assert full == pytest.approx(float(s.predict(df.iloc[[7]])[0]), rel=1e-9)
    with pytest.raises(ValueError, match="'kind' parameter"):
        residual_pipeline("svm", ["steel_weight_t"])


def test_gbm_residual_is_additive_in_the_decisions(cfg, synthetic):
    """No root-to-leaf path of the GBM residual splits on two different decisions, so with the context fixed
    every tree is a step function of one decision (merged by the embedding), and it still embeds exactly."""
    df = time_order(synthetic)
    dec = ["add_HC_FeMn_kg", "add_SiMn_kg"]
    feats = ["grade", "steel_weight_t", "initial_oxygen_ppm", *dec]
    s = ResidualStructure(ContextRecovery.build(cfg, "Mn"), "gbm", feats, decisions=dec).fit(
        df, df["final_Mn_wt_pct"].to_numpy())
    pre, hgb = s.model_[0], s.model_[-1]
    names = list(pre.get_feature_names_out())
    dec_idx = {i for i, n in enumerate(names) if n.split("__")[-1] in dec}
    for (pred,) in hgb._predictors:
        nodes = pred.nodes
        stack = [(0, frozenset())]
        while stack:
            i, used = stack.pop()
            if nodes["is_leaf"][i]:
                assert len(used) <= 1
                continue
            f = int(nodes["feature_idx"][i])
            used = used | ({f} & dec_idx)
            stack += [(int(nodes["left"][i]), used), (int(nodes["right"][i]), used)]
    row = df.iloc[11]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(dec, bounds=(0, 1500))
    m.out = pyo.Var()
    m.blk = pyo.Block()
    h = add_predictor_constr(m.blk, s.model_, {f: (m.x[f] if f in dec else row[f]) for f in feats}, m.out)
    m.obj = pyo.Objective(expr=m.out, sense=pyo.maximize)
    SolverFactory("highs").solve(m)
    model_value, predicted = h.check()
    assert model_value == pytest.approx(predicted, rel=1e-6, abs=1e-9)


@pytest.mark.slow  # over ~2.5 s (a real server, a simulated plant or a training run): make test only
def test_residual_chosen_when_physics_is_nonlinear_in_the_decision(cfg):
    heats = synthetic_heats(cfg, 1200, seed=5, nonlinear=0.6)
    sset, report = train_surrogates(mn_only(cfg), heats, residual=True)  # only Mn is asserted on
    mn = "final_Mn_wt_pct"
    assert "+" in report.chosen[mn], report.cv_mae[mn]
    sur = sset.outcomes[mn]
    assert not sur.decision_linear and sur.structure_name == report.chosen[mn]
    rows = heats.head(10)
    lin = np.array([sur.linear_terms(r)[0] + sum(c * r[d] for d, c in sur.linear_terms(r)[1].items())
                    for r in rows.to_dict("records")])
    np.testing.assert_allclose(lin + sur.residual_model.predict(rows[sur.residual_features]), sur.predict(rows))
    assert report.candidate_test[mn][report.chosen[mn]]["mae"] < report.candidate_test[mn]["context_recovery"]["mae"]


def test_domain_check_names_feature_value_and_range(cfg, synthetic):
    sset, _ = train_surrogates(cfg, synthetic)
    grade = str(synthetic["grade"].iloc[0])
    row = synthetic[synthetic["grade"] == grade].iloc[0]
    ctx = {f: row[f] for f in sset.outcomes["final_Mn_wt_pct"].context_features}
    dec = {f: float(row[f]) for f in sset.outcomes["final_Mn_wt_pct"].decision_features}
    lo, hi = sset.domain.bounds(grade, "add_SiMn_kg")
    seen = time_order(synthetic).iloc[: 510]
    assert hi == seen.loc[seen["grade"] == grade, "add_SiMn_kg"].max()
    inside = sset.check(ctx, dec)
    assert inside == [] or all("total addition" in v for v in inside)
    msgs = sset.check({**ctx, "initial_oxygen_ppm": 5000.0}, {**dec, "add_SiMn_kg": 2 * hi, "add_FeSi75_kg": 0.0,
                                                                   "add_MC_FeMn_kg": 50.0})
    assert any(m.startswith("initial_oxygen_ppm = 5000 outside the training range") for m in msgs)
    assert any(m.startswith(f"add_SiMn_kg = {2 * hi:g} outside the training range") for m in msgs)
    assert any(m.startswith("add_MC_FeMn_kg = 50 outside the training range 0..0") for m in msgs)
    feats, lo_kg, hi_kg = sset.domain.total_addition_bounds(grade, 100.0)
    assert "add_SiMn_kg" in feats and 0 <= lo_kg < hi_kg
    assert sset.check({**ctx, "grade": "XX"}, dec) == ["grade XX does not occur in the training heats"] * 2
