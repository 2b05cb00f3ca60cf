"""python_scoring: train, score and write back scorehouse models on dbt-built tables.

The dbt project builds the wide tables, labels and training/scoring frames; this package
reads them through the same dbt profile, resolves every relation from dbt's manifest and
writes scores back into the tables the dbt sources declare (see DESIGN.md).
"""

__version__ = "0.1.0"
