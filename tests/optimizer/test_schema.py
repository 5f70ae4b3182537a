"""Column and outcome names are built and parsed by ``optimizer.schema`` only: the parsers invert the builders."""

from __future__ import annotations

import pytest

from optimizer.schema import (
    TEMPERATURE,
    element_col,
    element_of,
    heat_columns,
    material_col,
    material_of,
    sample_element,
    sample_element_col,
    sample_element_of,
    sample_elements,
)
from optimizer.surrogates.prior import prior_surrogates
from optimizer.surrogates.residual import is_residual_name, residual_name


def test_parsers_invert_the_builders(cfg):
    for m in [*cfg.material_names, "Fe_Si_75"]:  # a material name may hold underscores
        assert material_of(material_col(m)) == m
    for el in cfg.elements:
        assert element_of(element_col("initial", el)) == el == element_of(element_col("final", el))
    names = [c.name for c in heat_columns(cfg)]
    assert {material_of(c) for c in names} - {None} == set(cfg.material_names)
    assert {element_of(c) for c in names} - {None} == set(cfg.elements)


@pytest.mark.parametrize("column", [TEMPERATURE, "arc_energy_kWh", "n_samples", "add__kg", "Mn_wt_pct",
                                    "previous_add_SiMn_kg", "final_Mn_wt_pct_x"])
def test_other_columns_are_neither_a_material_nor_an_element(column):
    assert material_of(column) is None and element_of(column) is None



def test_sample_names_parse_back_to_their_element(cfg):
    for el in cfg.elements:
        assert sample_element_of(sample_element_col(el)) == el == sample_element(sample_element_col(el))
    row = {"sample_no": 2, "temperature_degC": 1600.0, "Mn_wt_pct": 1.2, "Al_wt_pct": 0.03, "stage": "trim"}
    assert sample_elements(row) == {"Mn": 1.2, "Al": 0.03}
    for other in ("temperature_degC", "final_Mn_wt_pct", "add_FeMn_kg"):
        assert sample_element_of(other) is None
        with pytest.raises(ValueError, match="not a chemistry outcome"):
            sample_element(other)


def test_residual_structure_names():
    assert residual_name("context_recovery", "gbm") == "context_recovery+gbm"
    assert is_residual_name(residual_name("heat_balance", "mlp")) and not is_residual_name("heat_balance")


def test_prior_and_learned_surrogates_share_one_halfwidth_signature(cfg):
    prior = prior_surrogates(cfg).outcomes["final_Mn_wt_pct"]
    assert prior.halfwidth(2, 0.9, "S355J2") == prior.halfwidth(2, 0.9) > prior.halfwidth(4, 0.9)
