"""`scorehouse serve` on a real socket over the e2e warehouse (telco: LightGBM compiled by
lleaves, random forest, WOE scorecard): online scores equal the batch's, bad input gets
its status and one line, answered requests survive a SIGKILL in the spool, reload swaps
versions with no failed request, and a property-based fuzz of the OpenAPI schema finds
no server error."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from decimal import Decimal

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from python_scoring.registry import load_registry

from ..conftest import REPO, Built, make_warehouse
from .server import CLI, kill, start

MODELS = ["churn_lgbm", "package_upsell_rf", "data_addon_scorecard"]


def _rows(built: Built, sql: str) -> list[dict]:
    con = duckdb.connect(built.env["SCOREHOUSE_DUCKDB_PATH"], read_only=True)
    try:
        return con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.close()


def _json(value):
    return float(value) if isinstance(value, Decimal) else value


def _snapshot(built: Built) -> dict:
    home = built.root / "snapshots" / "telco"
    return json.loads((home / (home / "CURRENT").read_text().strip() / "manifest.json").read_text())


@pytest.fixture(scope="module")
def served(warehouse):
    server = start(warehouse)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def batch(warehouse):
    """Per model, the latest month's batch scores by id and the scoring input rows."""
    manifest = _snapshot(warehouse)["models"]
    registry = load_registry(warehouse.project())
    out = {}
    for name in MODELS:
        m = manifest[name]
        scores = _rows(
            warehouse,
            f"select * from ml.model_scores where model_name = '{name}' "
            f"and score_month = '{m['month']}'",
        )
        relation = warehouse.project().model(registry[name].scoring_input)
        columns = ", ".join([m["entity_id"], *m["features"]])
        inputs = _rows(
            warehouse,
            f"select {columns} from {relation.sql} where "
            f"{registry[name].month_column} = '{m['month']}'",
        )
        out[name] = (m, {r["entity_id"]: r for r in scores}, inputs)
    return out


def _same(online: dict, batch_row: dict, k: int) -> None:
    assert abs(online["score"] - batch_row["score"]) <= 1e-12
    reasons = [
        (
            batch_row[f"reason_{i}"],
            batch_row[f"reason_{i}_value"],
            batch_row[f"reason_{i}_contribution"],
        )
        for i in range(1, k + 1)
        if batch_row[f"reason_{i}"] is not None
    ]
    got = [(r["feature"], r["value"], r["contribution"]) for r in online["reasons"]]
    assert [(f, v) for f, v, _ in got] == [(f, v) for f, v, _ in reasons]
    assert np.allclose([c for *_, c in got], [c for *_, c in reasons], rtol=0, atol=1e-12)


def test_the_run_wrote_a_snapshot_and_the_service_serves_it(served, warehouse):
    ready = served.client.get("/readyz").json()
    manifest = _snapshot(warehouse)
    assert set(ready["models"]) == set(MODELS)
    for name in MODELS:
        assert ready["models"][name]["version"] == manifest["models"][name]["version"]
        assert ready["models"][name]["rows"] == manifest["models"][name]["rows"] > 1000
    assert ready["models"]["churn_lgbm"]["predictor"] == "lleaves"
    assert served.client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("model", MODELS)
def test_score_by_id_equals_the_batch_on_every_row(served, batch, model):
    manifest, scores, _ = batch[model]
    ids = sorted(scores)
    k = manifest["n_reasons"]
    assert k == 3
    for start_at in range(0, len(ids), 2000):
        chunk = ids[start_at : start_at + 2000]
        answer = served.client.post(f"/v1/models/{model}/score-by-id", json={"ids": chunk})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["version"] == manifest["version"]
        for online in body["rows"]:
            _same(online, scores[online["entity_id"]], k)
            assert 1 <= online["decile"] <= 10


@pytest.mark.parametrize("model", MODELS)
def test_score_on_posted_features_equals_the_batch_row_by_row(served, batch, model):
    manifest, scores, inputs = batch[model]
    # the month's input has nulls in some numeric column (the batch's dtype becomes float)
    nulls = [f for f in manifest["features"] if any(r[f] is None for r in inputs)]
    assert nulls, "the e2e input should hold nulls"
    rng = np.random.default_rng(7)
    picked = [inputs[i] for i in rng.choice(len(inputs), 120, replace=False)]
    whole = [r for r in inputs if all(r[f] is not None for f in nulls)][:20]
    for row in picked + whole:
        body = {"rows": [{k: _json(v) for k, v in row.items()}]}
        answer = served.client.post(f"/v1/models/{model}/score", json=body)
        assert answer.status_code == 200, answer.text
        (online,) = answer.json()["rows"]
        entity = str(row[manifest["entity_id"]])
        assert online["entity_id"] == entity
        _same(online, scores[entity], manifest["n_reasons"])


def _arrow(rows: list[dict]) -> bytes:
    """Rows as an Arrow IPC stream (types as Arrow infers them: the service casts)."""
    table = pa.Table.from_pylist(rows)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


ARROW = {"content-type": "application/vnd.apache.arrow.stream"}


@pytest.mark.parametrize("model", MODELS)
def test_arrow_rows_score_as_the_batch(served, batch, model):
    manifest, scores, inputs = batch[model]
    rng = np.random.default_rng(8)
    picked = [inputs[i] for i in rng.choice(len(inputs), 300, replace=False)]
    post = served.client.post
    answer = post(f"/v1/models/{model}/score-arrow", content=_arrow(picked), headers=ARROW)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert [r["entity_id"] for r in rows] == [str(r[manifest["entity_id"]]) for r in picked]
    for online in rows:
        _same(online, scores[online["entity_id"]], manifest["n_reasons"])
    # fewer reasons on request: the same scores, the batch's first reasons
    for k in (0, 1):
        fewer = post(
            f"/v1/models/{model}/score-arrow?reasons={k}", content=_arrow(picked), headers=ARROW
        )
        assert fewer.status_code == 200, fewer.text
        for online, full in zip(fewer.json()["rows"], rows, strict=True):
            assert online["score"] == full["score"] and online["reasons"] == full["reasons"][:k]
    # without the id: rows named by position
    unnamed = [{k: v for k, v in r.items() if k != manifest["entity_id"]} for r in picked[:3]]
    answer = post(f"/v1/models/{model}/score-arrow", content=_arrow(unnamed), headers=ARROW)
    assert [r["entity_id"] for r in answer.json()["rows"]] == ["0", "1", "2"]


def test_bad_arrow_bodies_get_their_status_and_one_line(served, batch):
    post = served.client.post
    manifest, _, inputs = batch["churn_lgbm"]
    row = inputs[0]
    number = next(k for k in manifest["features"] if isinstance(row[k], float))
    url = "/v1/models/churn_lgbm/score-arrow"

    def check(body, status, *words):
        answer = post(url, content=body, headers=ARROW)
        assert answer.status_code == status, answer.text
        detail = answer.json()["detail"]
        assert "\n" not in detail and "Traceback" not in detail
        for word in words:
            assert word in detail

    check(b"", 400, "Arrow IPC")
    check(b"garbage bytes", 400, "Arrow IPC")
    check(_arrow([row])[:-40], 400, "Arrow IPC")  # cut short
    check(_arrow([{k: v for k, v in row.items() if k != number}]), 422, "missing", number)
    check(_arrow([{**row, "shoe_size": 42}]), 422, "shoe_size")
    check(_arrow([{**row, number: "many"}]), 422, number)
    check(_arrow([{**row, number: float("inf")}]), 422, number, "infinite")
    check(_arrow([row] * 5001), 422, "5,001 rows")
    check(_arrow([row])[: len(_arrow([row])) // 2], 400, "Arrow IPC")
    empty = pa.Table.from_pylist([row]).slice(0, 0)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, empty.schema) as writer:
        writer.write_table(empty)
    check(sink.getvalue().to_pybytes(), 422, "0 rows")
    unknown = post("/v1/models/nope/score-arrow", content=_arrow([row]), headers=ARROW)
    assert unknown.status_code == 404, unknown.text
    nan = post(url, content=_arrow([{**row, number: float("nan")}]), headers=ARROW)
    none = post(url, content=_arrow([{**row, number: None}]), headers=ARROW)
    assert nan.status_code == none.status_code == 200  # NaN is a missing value, as null
    assert nan.json()["rows"][0]["score"] == none.json()["rows"][0]["score"]


def test_a_customer_has_its_batch_scores_and_composite(served, batch, warehouse):
    manifest, scores, _ = batch["churn_lgbm"]
    entity = sorted(scores)[5]
    answer = served.client.get(f"/v1/customers/{entity}")
    assert answer.status_code == 200
    body = answer.json()
    got = {s["model"]: s["score"] for s in body["scores"]}
    assert got == {m: batch[m][1][entity]["score"] for m in MODELS}
    (composite,) = _rows(
        warehouse,
        "select composite_score, score_decile from marts.composite_scores where entity_key = "
        f"(select entity_key from restricted.customer_keys where entity_id = '{entity}') "
        "and score_month = (select max(score_month) from marts.composite_scores)",
    )
    assert body["composite"][0]["composite_score"] == pytest.approx(composite["composite_score"])
    assert body["composite"][0]["decile"] == composite["score_decile"]
    assert served.client.get("/v1/customers/no-such-id").status_code == 404


def _valid(batch, model: str) -> dict:
    manifest, _, inputs = batch[model]
    return {k: _json(v) for k, v in inputs[0].items() if k in manifest["features"]}


def test_bad_input_gets_its_status_and_one_line(served, batch):
    post = served.client.post
    row = _valid(batch, "churn_lgbm")
    feature = batch["churn_lgbm"][0]["features"][0]
    text_feature = next(k for k, v in row.items() if isinstance(v, str))
    number_feature = next(k for k, v in row.items() if isinstance(v, float))

    def check(answer, status, *words):
        assert answer.status_code == status, answer.text
        detail = answer.json()["detail"]
        assert "\n" not in detail and "Traceback" not in detail
        for word in words:
            assert word in detail

    check(post("/v1/models/nope/score", json={"rows": [row]}), 404, "nope", "churn_lgbm")
    check(post("/v1/models/nope/score-by-id", json={"ids": ["1"]}), 404, "nope")
    missing = {k: v for k, v in row.items() if k != feature}
    check(post("/v1/models/churn_lgbm/score", json={"rows": [missing]}), 422, feature, "required")
    extra = {**row, "shoe_size": 42}
    check(post("/v1/models/churn_lgbm/score", json={"rows": [extra]}), 422, "shoe_size")
    wrong = {**row, number_feature: "many"}
    check(post("/v1/models/churn_lgbm/score", json={"rows": [wrong]}), 422, number_feature)
    for bad in ("NaN", "Infinity", "1e400"):
        text = json.dumps({"rows": [{**row, number_feature: 0.5}]}).replace("0.5", bad, 1)
        check(
            post(
                "/v1/models/churn_lgbm/score",
                content=text,
                headers={"content-type": "application/json"},
            ),
            422,
            number_feature,
        )
    check(
        post(
            "/v1/models/churn_lgbm/score",
            content=b'{"rows": [',
            headers={"content-type": "application/json"},
        ),
        400,
        "malformed JSON",
    )
    big = b'{"rows": [' + b" " * (33 * 2**20) + b"]}"
    check(
        post(
            "/v1/models/churn_lgbm/score", content=big, headers={"content-type": "application/json"}
        ),
        413,
        "MiB",
    )
    check(
        post("/v1/models/churn_lgbm/score-by-id", json={"ids": ["no-such-id"]}), 404, "no-such-id"
    )
    check(post("/v1/models/churn_lgbm/score", json={"rows": []}), 422, "rows")
    # finite for JSON but beyond the forest's float32: refused by the estimator, 422
    forest = _valid(batch, "package_upsell_rf")
    huge = next(k for k, v in forest.items() if isinstance(v, float))
    check(
        post("/v1/models/package_upsell_rf/score", json={"rows": [{**forest, huge: 1e300}]}),
        422,
        "package_upsell_rf",
    )
    # an unseen category and nulls where the batch allows them score, as in batch
    unseen = post("/v1/models/churn_lgbm/score", json={"rows": [{**row, text_feature: "Martian"}]})
    assert unseen.status_code == 200 and 0 < unseen.json()["rows"][0]["score"] < 1
    nulls = {k: None for k in row}
    assert post("/v1/models/churn_lgbm/score", json={"rows": [nulls]}).status_code == 200


@pytest.fixture(scope="module")
def keyed(warehouse):
    """A second server: API key set, LightGBM not compiled, its own spool."""
    server = start(
        warehouse,
        "--no-compile",
        "--spool",
        str(warehouse.root / "spool-keyed"),
        env={"SCOREHOUSE_API_KEY": "s3cret-key"},
    )
    yield server
    server.stop()


def test_the_api_key_is_enforced_when_set(keyed, batch):
    row = _valid(batch, "data_addon_scorecard")
    url = "/v1/models/data_addon_scorecard/score"
    assert keyed.client.post(url, json={"rows": [row]}).status_code == 401
    wrong = {"X-API-Key": "guess"}
    assert keyed.client.post(url, json={"rows": [row]}, headers=wrong).status_code == 401
    right = {"X-API-Key": "s3cret-key"}
    assert keyed.client.post(url, json={"rows": [row]}, headers=right).status_code == 200
    assert keyed.client.get("/v1/customers/x", headers=wrong).status_code == 401
    assert keyed.client.get("/healthz").status_code == 200  # probes stay open


def test_uncompiled_lightgbm_equals_the_batch(keyed, batch):
    assert keyed.client.get("/readyz").json()["models"]["churn_lgbm"]["predictor"] != "lleaves"
    manifest, scores, inputs = batch["churn_lgbm"]
    headers = {"X-API-Key": "s3cret-key"}
    for row in inputs[:60]:
        body = {"rows": [{k: _json(v) for k, v in row.items()}]}
        answer = keyed.client.post("/v1/models/churn_lgbm/score", json=body, headers=headers)
        (online,) = answer.json()["rows"]
        _same(online, scores[online["entity_id"]], manifest["n_reasons"])


def test_metrics_count_every_request_per_model(keyed, batch):
    headers = {"X-API-Key": "s3cret-key"}
    before = _metrics(keyed)
    row = _valid(batch, "package_upsell_rf")
    for _ in range(7):
        keyed.client.post(
            "/v1/models/package_upsell_rf/score", json={"rows": [row]}, headers=headers
        )
    for _ in range(3):
        keyed.client.post(
            "/v1/models/package_upsell_rf/score", json={"rows": [{}]}, headers=headers
        )
    after = _metrics(keyed)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    labels = {"model": "package_upsell_rf", "endpoint": "score"}
    assert delta("scorehouse_requests_total", status="200", **labels) == 7
    assert delta("scorehouse_request_errors_total", **labels) == 0  # a 422 has no model yet
    assert delta("scorehouse_request_seconds_count", **labels) == 7
    assert delta("scorehouse_rows_scored_total", **labels) == 7
    assert delta("scorehouse_requests_total", model="", endpoint="score", status="422") == 3


def _metrics(server) -> dict:
    text = server.client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_answered_requests_survive_a_sigkill_and_are_ingested_once(warehouse, batch):
    spool = warehouse.root / "spool-crash"
    server = start(warehouse, "--spool", str(spool))
    row = _valid(batch, "churn_lgbm")
    ids = sorted(batch["churn_lgbm"][1])[:10]
    answered = []
    for i in range(40):
        if i % 4 == 0:
            answer = server.client.post("/v1/models/churn_lgbm/score-by-id", json={"ids": ids})
        elif i % 4 == 1:
            answer = server.client.post("/v1/models/nope/score", json={"rows": [row]})
        elif i % 4 == 2:  # two rows as Arrow: the spool keeps the body, ingestion reads it
            answer = server.client.post(
                "/v1/models/churn_lgbm/score-arrow", content=_arrow([row, row]), headers=ARROW
            )
        else:
            answer = server.client.post("/v1/models/churn_lgbm/score", json={"rows": [row]})
        answered.append((answer.headers["x-request-id"], answer.status_code))
    kill(server)
    lines = [
        json.loads(line)
        for path in spool.glob("*.jsonl*")
        for line in path.read_text().splitlines()
    ]
    assert {(r["request_id"], r["status"]) for r in lines} == set(answered)
    by_id = next(r for r in lines if r["endpoint"] == "score-by-id")
    assert [r["entity_id"] for r in by_id["rows"]] == ids
    for _ in range(2):  # twice: the second run finds nothing new
        done = subprocess.run(
            [str(CLI), *warehouse.cli_args, "ingest-requests", "--spool", str(spool)],
            env=warehouse.env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    (count,) = _rows(
        warehouse,
        "select count(distinct request_id) as n, count(*) as rows from ml.online_requests",
    )
    assert count["n"] == 40
    assert count["rows"] == 10 * 10 + 10 * 2 + 20  # by id 10 rows, Arrow 2, the others 1
    features = _rows(
        warehouse,
        "select endpoint, features from ml.online_requests where status = 200 "
        "and endpoint in ('score', 'score-arrow')",
    )
    assert {r["endpoint"] for r in features} == {"score", "score-arrow"}
    assert all(json.loads(r["features"]) == row for r in features)


def _clone(built: Built, root) -> Built:
    """A copy of the e2e warehouse (the reload test trains a new version in it)."""
    copy = make_warehouse(root)
    for name in ("warehouse.duckdb", "artifacts", "snapshots", "target"):
        source = built.root / name
        if source.is_dir():
            shutil.copytree(source, copy.root / name)
        else:
            shutil.copy2(source, copy.root / name)
    return copy


def test_reload_swaps_in_a_new_version_with_no_failed_request(warehouse, tmp_path):
    clone = _clone(warehouse, tmp_path / "clone")
    server = start(clone)
    model = "data_addon_scorecard"
    old = server.client.get("/readyz").json()["models"][model]["version"]
    entity = _rows(
        clone, f"select entity_id from ml.model_scores where model_name = '{model}' limit 1"
    )[0]["entity_id"]
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer():
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                answer = client.post(f"/v1/models/{model}/score-by-id", json={"ids": [entity]})
                seen.append((answer.status_code, answer.json().get("version")))

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        # the service holds no lock on the warehouse: training and a snapshot run beside it
        for command in (["train", "--model", model], ["snapshot"]):
            done = subprocess.run(
                [str(CLI), *clone.cli_args, "-q", *command],
                env=clone.env,
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
        reloaded = server.client.post("/admin/reload")
        assert reloaded.status_code == 200, reloaded.text
        new = reloaded.json()["models"][model]
        assert new != old
        time.sleep(0.5)
        # SIGHUP: the same swap, from the operator's kill -HUP
        first = server.client.get("/readyz").json()["snapshot"]
        done = subprocess.run([str(CLI), *clone.cli_args, "-q", "snapshot"], env=clone.env)
        assert done.returncode == 0
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while server.client.get("/readyz").json()["snapshot"] == first:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join()
        server.stop()
    statuses = {status for status, _ in seen}
    versions = [v for _, v in seen]
    assert statuses == {200}
    assert len(seen) > 20
    assert versions[0] == old and versions[-1] == new
    switch = versions.index(new)
    assert set(versions[switch:]) == {new}  # never back to the old one


def test_a_fuzz_of_the_openapi_schema_finds_no_server_error(served, batch, tmp_path):
    config = tmp_path / "schemathesis.toml"
    entity = sorted(batch["churn_lgbm"][1])[0]
    config.write_text(f'[parameters]\n"path.model" = "churn_lgbm"\n"path.entity_id" = "{entity}"\n')
    done = subprocess.run(
        [
            str(CLI.parent / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{served.url}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,negative_data_rejection",
            "--exclude-path",
            "/admin/reload",  # tested on its own; each call reloads every model
            "--max-examples",
            "20",
            "--seed",
            "1",
            "--generation-deterministic",
            "--workers",
            "1",
            "--max-time",
            "60",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # its replay store (.schemathesis/) stays out of the repository
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.python.serving.fuzz_hooks",  # Arrow bodies
            "SCOREHOUSE_FUZZ_FEATURES": json.dumps(batch["churn_lgbm"][0]["features"]),
        },
    )
    assert done.returncode == 0, done.stdout[-6000:]
    assert "5xx" not in done.stdout or "0 5xx" in done.stdout
    lines = [
        json.loads(x)
        for p in served.log.parent.glob("spool/*.jsonl*")
        for x in p.read_text().splitlines()
    ]
    assert lines and not [r for r in lines if r["status"] >= 500]
