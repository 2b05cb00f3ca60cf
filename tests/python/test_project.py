import pytest

from python_scoring.errors import ScorehouseError
from python_scoring.project import Project

from .conftest import REPO

PROFILE = """
scorehouse:
  target: "{{ env_var('SH_TEST_TARGET', 'duckdb') }}"
  outputs:
    duckdb:
      type: duckdb
      path: "{{ env_var('SH_TEST_PATH') }}"
"""


def test_profile_renders_env_vars(tmp_path, monkeypatch):
    (tmp_path / "profiles.yml").write_text(PROFILE)
    monkeypatch.setenv("SH_TEST_PATH", "/data/x.duckdb")
    output = Project(REPO, tmp_path).profile_output
    assert output == {"type": "duckdb", "path": "/data/x.duckdb", "target_name": "duckdb"}


def test_profile_errors(tmp_path, monkeypatch):
    (tmp_path / "profiles.yml").write_text(PROFILE)
    monkeypatch.delenv("SH_TEST_PATH", raising=False)
    with pytest.raises(ScorehouseError, match="needs environment variable SH_TEST_PATH"):
        _ = Project(REPO, tmp_path).profile_output
    monkeypatch.setenv("SH_TEST_PATH", "x")
    with pytest.raises(ScorehouseError, match="target 'hive' is not an output"):
        _ = Project(REPO, tmp_path, target="hive").profile_output


def test_not_a_dbt_project(tmp_path):
    with pytest.raises(ScorehouseError, match="no dbt_project.yml"):
        Project(tmp_path)
