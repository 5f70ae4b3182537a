"""The xdist groups (tests/xdist_groups.py) name tests that exist, and group by file or by one test's node id."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("xdist", reason="pytest-xdist (the dev extra) schedules the groups")

from tests.xdist_groups import GROUPS, group_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_every_grouped_file_and_test_exists():
    for key in GROUPS:
        path, _, name = key.partition("::")
        assert (ROOT / path).is_file(), f"{key}: no such test file (renamed? update tests/xdist_groups.py)"
        if name:
            tree = ast.parse((ROOT / path).read_text())
            assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, f"{key}: no such test"


def test_group_of_a_node_id():
    assert group_of("tests/connectors/test_scale.py::test_killed_worker_its_tasks_run_elsewhere") == "scale_furnaces"
    assert group_of("tests/connectors/test_scale.py::test_fleet_night_on_cluster_through_the_cli") is None
    assert group_of("tests/connectors/test_model_registry.py::test_no_champion_yet") == "mlflow_registry"
    coordinate = "tests/optimizer/dosing/test_coordinate.py::"
    assert group_of(coordinate + "test_optimize_with_residual_models_coordinates_and_matches_joint_milp") == \
        "trained_600"
    assert group_of("tests/optimizer/surrogates/test_surrogates.py::test_x[a-b]") == "test_surrogates"
    assert group_of(coordinate + "test_something_else") is None
    assert group_of("tests/test_ports.py::test_workers_have_disjoint_blocks_below_the_ephemeral_range") is None


def test_tests_sharing_an_opcua_server_run_in_one_group():
    """A ``SharedServer`` fixture (tests/connectors/opcua/conftest.py) is started once per worker that runs one of
    its tests: all of them must be in one group, and in a group of their own."""
    checked = 0
    for path in sorted((ROOT / "tests" / "connectors" / "opcua").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        shared = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.returns is not None
                  and "SharedServer" in ast.unparse(n.returns)}
        for fixture in shared:
            users = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
                     and fixture in {a.arg for a in n.args.args}]
            rel = path.relative_to(ROOT).as_posix()
            groups = {group_of(f"{rel}::{name}") for name in users}
            assert users and len(groups) == 1 and None not in groups, (fixture, users, groups)
            members = {key for key, g in GROUPS.items() if g in groups}
            assert members == {f"{rel}::{name}" for name in users}, (fixture, members)
            checked += 1
    assert checked >= 2


def test_tests_of_the_session_advisor_run_in_its_group():
    """The session's advisor (tests/optimizer/advisor/conftest.py) is learned again (~12 s) on every worker that
    runs a test asking for it: each such test is in the ``advisor_history`` group. (The history alone, ~1 s to
    simulate, is not worth a group.)"""
    users = []
    for path in sorted((ROOT / "tests" / "optimizer" / "advisor").glob("test_*.py")):
        rel = path.relative_to(ROOT).as_posix()
        users += [f"{rel}::{n.name}" for n in ast.parse(path.read_text()).body
                  if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
                  and "advisor" in {a.arg for a in n.args.args}]
    assert len(users) >= 10
    assert [u for u in users if group_of(u) != "advisor_history"] == []
