"""Where the dbt project, its profile and its manifest are, and what they say.

python_scoring never hard-codes a schema or table: relations come from
`target/manifest.json` (written by `dbt parse` / `dbt build`), connection settings from
the same `profiles.yml` target that dbt uses.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import yaml

from python_scoring.errors import ScorehouseError

# the dbt project's layers (models/<layer>/), in build order
LAYERS = ("staging", "intermediate", "features", "targets", "ml", "marts", "restricted")


def _quoted(name: str) -> str:
    """Plain lower-case names bare, which every engine reads the same (Spark takes double
    quotes for a string); any other name double-quoted, as DuckDB and PostgreSQL need."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Relation:
    """A warehouse table or view as dbt names it."""

    database: str | None
    schema: str
    identifier: str

    @property
    def sql(self) -> str:
        # Schema-qualified only: a connection reaches one database (one DuckDB file, one
        # PostgreSQL database), and the manifest's database name depends on the file or
        # database it was parsed against, not on where we connect now.
        return f"{self.schema_sql}.{_quoted(self.identifier)}"

    @property
    def schema_sql(self) -> str:
        return _quoted(self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


def _yaml_file(path: Path) -> dict[str, Any]:
    """A YAML file holding a mapping; a syntax error is one line naming the file and line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScorehouseError(f"{path}{where} is not valid YAML: {problem}") from exc
    except UnicodeDecodeError as exc:
        raise ScorehouseError(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScorehouseError(f"{path} must hold a YAML mapping, not a {type(data).__name__}")
    return data


def _env_var(name: str, default: str | None = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is not None:
        return default
    raise ScorehouseError(f"profiles.yml needs environment variable {name}, which is not set")


_JINJA = jinja2.Environment()
# dbt's filters for typed profile values (`port: "{{ env_var('PORT') | as_number }}"`):
# the text is typed after rendering, only where a template asks for it, as dbt does.
_JINJA.filters.update(as_number=str, as_bool=str, as_text=str, as_native=str)


def _typed(template: str, text: str) -> Any:
    if "as_number" in template:
        return float(text) if "." in text else int(text)
    if "as_bool" in template:
        return text.strip().lower() == "true"
    if "as_native" in template:
        return yaml.safe_load(text)
    return text


def _render(value: Any) -> Any:
    """Render the `{{ env_var(...) }}` templating dbt allows in profiles.yml."""
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    if isinstance(value, str) and "{{" in value:
        return _typed(value, _JINJA.from_string(value).render(env_var=_env_var))
    return value


@dataclass
class Project:
    """A dbt project on disk plus the profile target python_scoring connects with."""

    project_dir: Path = field(default_factory=Path.cwd)
    profiles_dir: Path | None = None
    target: str | None = None
    target_path: Path | None = None
    artifacts: Path | None = None  # default: $SCOREHOUSE_ARTIFACTS, else <project>/artifacts

    def __post_init__(self) -> None:
        self.project_dir = Path(self.project_dir).resolve()
        if not (self.project_dir / "dbt_project.yml").is_file():
            raise ScorehouseError(f"no dbt_project.yml in {self.project_dir}")

    @cached_property
    def dbt_project(self) -> dict[str, Any]:
        return _yaml_file(self.project_dir / "dbt_project.yml")

    @property
    def manifest_path(self) -> Path:
        target_path = self.target_path or os.environ.get("DBT_TARGET_PATH")
        path = Path(target_path or self.dbt_project.get("target-path", "target"))
        if not path.is_absolute():
            path = self.project_dir / path
        return path / "manifest.json"

    @cached_property
    def manifest(self) -> dict[str, Any]:
        path = self.manifest_path
        if not path.is_file():
            raise ScorehouseError(
                f"dbt manifest not found at {path}: run `dbt parse` (or `dbt build`) first"
            )
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ScorehouseError(f"dbt manifest {path} is not valid JSON: {exc}") from exc

    def forget_manifest(self) -> None:
        """Read the manifest anew on next use (dbt has rewritten it)."""
        self.__dict__.pop("manifest", None)

    # ---- profile -------------------------------------------------------------------
    def profiles_file(self) -> Path:
        candidates = [
            self.profiles_dir,
            os.environ.get("DBT_PROFILES_DIR"),
            self.project_dir,
            Path.home() / ".dbt",
        ]
        for directory in candidates:
            if directory and (Path(directory) / "profiles.yml").is_file():
                return Path(directory) / "profiles.yml"
        raise ScorehouseError(
            "profiles.yml not found (looked in --profiles-dir, $DBT_PROFILES_DIR, the project "
            "directory and ~/.dbt): copy profiles_example.yml to profiles.yml"
        )

    @cached_property
    def profile_output(self) -> dict[str, Any]:
        """The rendered output block of the active target, plus its name under `target_name`."""
        profile_name = self.dbt_project["profile"]
        path = self.profiles_file()
        profiles = _yaml_file(path)
        if profile_name not in profiles:
            raise ScorehouseError(f"profile '{profile_name}' is not defined in {path}")
        profile = _render(profiles[profile_name])
        target = self.target or os.environ.get("DBT_TARGET") or profile.get("target")
        outputs = profile.get("outputs", {})
        if target not in outputs:
            raise ScorehouseError(
                f"target '{target}' is not an output of profile '{profile_name}' in {path} "
                f"(known: {', '.join(sorted(outputs))})"
            )
        output = dict(outputs[target])
        output["target_name"] = target
        return output

    # ---- manifest lookups ------------------------------------------------------------
    def model(self, name: str) -> Relation:
        for node in self.manifest["nodes"].values():
            if node["resource_type"] == "model" and node["name"] == name:
                return Relation(node.get("database"), node["schema"], node.get("alias") or name)
        raise ScorehouseError(f"model '{name}' is not in the dbt manifest {self.manifest_path}")

    def source(self, source_name: str, table_name: str) -> Relation:
        for node in self.manifest["sources"].values():
            if node["source_name"] == source_name and node["name"] == table_name:
                return Relation(node.get("database"), node["schema"], node["identifier"])
        raise ScorehouseError(
            f"source '{source_name}.{table_name}' is not in the dbt manifest {self.manifest_path}"
        )

    def source_tables(self, source_name: str) -> dict[str, Relation]:
        return {
            node["name"]: Relation(node.get("database"), node["schema"], node["identifier"])
            for node in self.manifest["sources"].values()
            if node["source_name"] == source_name
        }

    def ml_exposures(self) -> list[dict[str, Any]]:
        return sorted(
            (e for e in self.manifest["exposures"].values() if e["type"] == "ml"),
            key=lambda e: e["name"],
        )

    def var(self, name: str, default: Any = None) -> Any:
        return (self.dbt_project.get("vars") or {}).get(name, default)

    @property
    def artifacts_dir(self) -> Path:
        if self.artifacts is not None:
            return self.artifacts
        return Path(os.environ.get("SCOREHOUSE_ARTIFACTS", self.project_dir / "artifacts"))
