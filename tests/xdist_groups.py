"""Which tests pytest-xdist runs on one worker (``make test``: ``-n N --dist loadgroup``).

A session or module fixture is built once per worker that runs a test using it. The tests that share an expensive
one run on one worker, as one unit of work: the real MLflow server and the models registered on it, the 600-heat
surrogates of the dosing tests, the advisor learned from history, an OPC UA server shared by tests of a module,
and the module fixtures below that train or evaluate. Every other test is scheduled on its own, wherever a worker
is free.

xdist's own ``xdist_group`` mark does not work with pytest 9.2 (pytest-xdist issue 1386: the worker-side nodeid
suffix it relies on no longer takes effect, and tests are spread as if unmarked), so the groups are declared here,
by test file, and ``GroupScheduling`` reads them on the controller. Scopes are dispatched largest first (xdist's
loadscope reorder), so the groups start at once and the single tests fill in around them.
"""

from __future__ import annotations

from xdist.scheduler import LoadGroupScheduling

# test file (or one test's node id) -> group; the files of one group run on one worker, in collection order
GROUPS: dict[str, str] = {
    # the registry tests share the session's real MLflow server (tests/connectors/conftest.py) ...
    "tests/connectors/test_model_registry.py": "mlflow_registry",
    # ... and so do the two scale tests on the furnaces' registered models (test_scale.py's furnaces, inline). Not
    # one group with the registry: together they were one worker's 15 of the suite's 18 minutes (a second server
    # costs less); the fleet night (the longest test) runs on its own
    "tests/connectors/test_scale.py::test_sweep_on_cluster_equals_inline_and_names_the_failed_unit": "scale_furnaces",
    "tests/connectors/test_scale.py::test_killed_worker_its_tasks_run_elsewhere": "scale_furnaces",
    # trained_600 and residual_surrogates (tests/optimizer/dosing/conftest.py)
    "tests/optimizer/dosing/test_pool.py": "trained_600",
    "tests/optimizer/dosing/test_residual_embedding.py": "trained_600",
    "tests/optimizer/dosing/test_coordinate.py::test_optimize_with_residual_models_coordinates_and_matches_joint_milp":
        "trained_600",
    # the session history and advisor (tests/optimizer/advisor/conftest.py)
    "tests/optimizer/advisor/test_advisor.py": "advisor_history",
    "tests/optimizer/advisor/test_follow_up_cost.py": "advisor_history",
    "tests/optimizer/advisor/test_joint_confidence.py": "advisor_history",
    "tests/optimizer/advisor/test_gross_readings.py": "advisor_history",
    "tests/optimizer/advisor/test_sample_weight.py::test_the_closing_estimate_lies_at_least_half_way_to_the_reading":
        "advisor_history",
    "tests/optimizer/advisor/test_lab_bias.py::test_a_sample_near_a_limit_finishes_only_without_the_lab_bias":
        "advisor_history",
    "tests/optimizer/advisor/test_stage_unseen.py::test_a_heat_whose_dip_over_reads_is_judged_on_its_settled_temperature":
        "advisor_history",
    "tests/optimizer/advisor/test_lab_wait.py::test_a_heat_that_waited_for_its_result_is_judged_on_what_it_leaves_with":
        "advisor_history",
    "tests/optimizer/advisor/test_lab_wait.py::test_a_stage_whose_result_will_be_slow_is_heated_for_the_wait":
        "advisor_history",
    "tests/optimizer/advisor/test_lab_wait.py::test_the_minutes_waited_are_stirring_the_stage_no_longer_needs":
        "advisor_history",
    # tests sharing one OPC UA server per module (SharedServer, tests/connectors/opcua/conftest.py)
    "tests/connectors/opcua/test_attacks.py::test_none_channel_attacker": "opcua_attacked",
    "tests/connectors/opcua/test_attacks.py::test_untrusted_channel_certificate_attacker": "opcua_attacked",
    "tests/connectors/opcua/test_attacks.py::test_only_engineers_may_call_approve": "opcua_attacked",
    "tests/connectors/opcua/test_opcua.py::test_unsafe_recommendation_publishes_nothing": "opcua_publishing",
    "tests/connectors/opcua/test_opcua.py::test_old_generations_are_dropped_completely": "opcua_publishing",
    "tests/connectors/opcua/test_opcua.py::test_a_generation_dropped_between_browse_and_read_is_read_again":
        "opcua_publishing",
    # the notebooks: the worker that runs them imports nbformat (~3 s of CPU, tests/test_notebooks.py)
    "tests/test_notebooks.py": "notebooks",
    # the OMLT oracle: the worker that runs it imports skl2onnx and onnx (~2 s of CPU, test_omlt_oracle.py)
    "tests/optimizer/embedding/test_omlt_oracle.py": "omlt_oracle",
    # module fixtures that train or evaluate (seconds each, once per worker otherwise)
    "tests/optimizer/surrogates/test_surrogates.py": "test_surrogates",
    "tests/optimizer/simulator/test_evaluate.py": "test_evaluate",
    "tests/optimizer/simulator/test_simulator.py": "test_simulator",
    "tests/optimizer/dosing/test_day_ranges.py": "test_day_ranges",
    "tests/connectors/test_nightly.py": "test_nightly",
    "tests/connectors/test_nightly_bad_input.py": "test_nightly_bad_input",
    "tests/connectors/test_night_prices.py": "test_night_prices",
    # the advisor learned from 300 heats and the heats' states (module fixtures, ~5-7 s of CPU per worker)
    "tests/connectors/opcua/test_advisor_service.py": "advisor_service",
}


def group_of(nodeid: str) -> str | None:
    """The group of a test's node id (by its own id first, then by its file), None for a test on its own."""
    base = nodeid.split("[", 1)[0]  # parametrized tests share their function's entry
    return GROUPS.get(base) or GROUPS.get(nodeid.split("::", 1)[0])


class GroupScheduling(LoadGroupScheduling):
    """``--dist loadgroup`` with the groups of ``GROUPS`` (as well as xdist_group marks, where xdist applies them)."""

    def _split_scope(self, nodeid: str) -> str:
        scope = super()._split_scope(nodeid)
        if scope != nodeid:  # an xdist_group mark that took effect
            return scope
        return group_of(nodeid) or nodeid
