"""Limits as they leave the program (optimizer/dosing/limits.py): the elastic terms and the marginal-cost keys,
whose string form is what a heat's plan has always shown."""

from __future__ import annotations

from optimizer.dosing import DosingOptions, build_model, optimize_heats
from optimizer.dosing.limits import MarginalKey, RelaxationTerm
from optimizer.schedule import HeatContext
from optimizer.surrogates import prior_surrogates
from tests.optimizer.dosing.tiny_plant import tiny_config


def heat(hid: str) -> HeatContext:
    return HeatContext(hid, "G1", 100.0, {"C": 0.05, "Mn": 0.2}, 1560.0, 300.0)


def test_marginal_key_labels_and_which_heat_shows_them():
    spec, stock = MarginalKey("spec", ("H1", "final_Mn_wt_pct", "min")), MarginalKey.inventory("FeMnB")
    assert spec.label == "final_Mn_wt_pct min"
    old = ("inventory", "FeMnB")  # the tuple key the label used to be formatted from
    assert stock.label == "inventory ('FeMnB',)" == f"{old[0]} {old[1:]}"
    assert MarginalKey("material_min", ("H1", "Coke")).label == "material_min ('H1', 'Coke')"
    assert spec.shown_for("H1") and not spec.shown_for("H2")
    assert stock.shown_for("H1") and stock.shown_for("H2")
    assert not MarginalKey("material_min", ("H1", "Coke")).shown_for("H1")


def test_a_scarce_stock_is_priced_under_its_key_in_every_heats_plan():
    cfg = tiny_config(**{"materials.1.daily_inventory_kg": 2500.0})
    res = optimize_heats(cfg, [heat("H1"), heat("H2")], prior_surrogates(cfg), workers=1)
    assert res.joint
    for r in res.heats:
        assert r.marginal["inventory ('FeMnB',)"] > 0
        assert r.inventory_price_per_kg["FeMnB"] == r.marginal["inventory ('FeMnB',)"]
        assert all(k == "inventory ('FeMnB',)" or k.endswith((" min", " max")) for k in r.marginal)


def test_the_elastic_program_lists_one_term_per_limit_that_may_give_way():
    cfg = tiny_config(**{"materials.1.daily_inventory_kg": 2500.0})
    m = build_model(cfg, [heat("H1")], prior_surrogates(cfg), DosingOptions(elastic=True))
    assert all(isinstance(t, RelaxationTerm) for t in m.elastic_terms)
    kinds = {t.kind: t for t in m.elastic_terms}
    assert set(kinds) == {"spec", "material", "inventory"}
    assert kinds["inventory"].key == ("FeMnB",) and kinds["inventory"].scale == 100.0
    assert {t.key for t in m.elastic_terms if t.kind == "material"} == {("H1", mat) for mat in cfg.material_names}
    assert ("H1", "final_Mn_wt_pct", "min") in {t.key for t in m.elastic_terms if t.kind == "spec"}
    assert not build_model(cfg, [heat("H1")], prior_surrogates(cfg), DosingOptions()).elastic_terms
