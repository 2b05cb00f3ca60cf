"""Reading a written report back without a browser (the engines' suites): the tables'
cells by their data-table and data-column names, the figures present."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.figures: list[str] = []
        self.sections: list[str] = []
        self.charts: list[str] = []
        self._table: str | None = None
        self._cell: str | None = None
        self._row: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        elif tag == "figure":
            self.figures.append(a["data-figure"])
        elif tag == "svg" and "data-chart" in a:
            self.charts.append(a["data-chart"])
        elif tag == "table":
            self._table = a["data-table"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None:
            self._cell = a["data-column"]
            self._row[self._cell] = a.get("data-value", "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None and self._row is not None and data.strip():
            self._row[self._cell] = self._row[self._cell] or data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


def read_report(path: Path) -> _Report:
    parsed = _Report()
    parsed.feed(Path(path).read_text(encoding="utf-8"))
    return parsed


def row(parsed: _Report, table: str, **match: str) -> dict[str, str]:
    found = [r for r in parsed.tables[table] if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"{table}: {len(found)} rows match {match}"
    return found[0]


def check_run_report(built) -> None:
    """The report `scorehouse run` wrote for a telco warehouse agrees with that warehouse
    (any engine): a model card per trained model with its out-of-time AUC as recorded,
    the monitoring rows of score_monitoring, one PSI heatmap cell per feature_psi row."""
    from ..conftest import query

    path = built.root / "report.html"
    html = path.read_text(encoding="utf-8")
    report = read_report(path)
    project = built.project()
    runs = project.source("ml", "training_runs").sql
    latest = query(
        built,
        f"select model_name, auc_oot from {runs} as r where finished_at = "
        f"(select max(finished_at) from {runs} as l where l.model_name = r.model_name)",
    )
    assert latest, "no training run"
    assert report.sections[0] == "overview" and "monitoring" in report.sections
    assert "features" in report.sections
    for model, auc_oot in latest:
        assert f"model-{model}" in report.sections
        shown = row(report, "models", model=model)["out-of-time AUC"]
        assert abs(float(shown) - auc_oot) < 1e-12, (model, shown, auc_oot)
        (months,) = query(
            built,
            f"select count(*) from {project.model('score_monitoring').sql} "
            f"where model_name = '{model}'",
        )[0]
        assert len(report.tables[f"monitoring-{model}"]) == months > 0
    (cells,) = query(built, f"select count(*) from {project.model('feature_psi').sql}")[0]
    drawn = html.count('<rect class="cell band-')
    assert drawn == cells > 0
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
