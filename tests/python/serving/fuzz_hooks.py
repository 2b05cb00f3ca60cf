"""Schemathesis hooks for the service's fuzz (SCHEMATHESIS_HOOKS): bodies for
POST .../score-arrow, which schemathesis cannot make from a JSON schema — random bytes,
and Arrow IPC streams of columns named like the model's features (SCOREHOUSE_FUZZ_FEATURES,
a JSON list) or not, of random types and values (nulls, NaN, infinities, huge numbers),
whole or cut short."""

import json
import os

import pyarrow as pa
import schemathesis
from hypothesis import strategies as st

FEATURES = json.loads(os.environ.get("SCOREHOUSE_FUZZ_FEATURES", "[]")) or ["x"]

_VALUES = {
    pa.float64(): st.floats(allow_nan=True, allow_infinity=True),
    pa.int64(): st.integers(-(2**63), 2**63 - 1),
    pa.string(): st.text(max_size=8),
    pa.bool_(): st.booleans(),
}


@st.composite
def _stream(draw) -> bytes:
    names = draw(st.lists(st.sampled_from([*FEATURES, "shoe_size"]), max_size=len(FEATURES) + 2))
    if draw(st.booleans()):  # mostly every feature, so that types and values get tested
        names = [*FEATURES, *names[:1]]
    rows = draw(st.integers(0, 4))
    columns = {}
    for name in dict.fromkeys(names):
        kind = draw(st.sampled_from(list(_VALUES)))
        values = draw(st.lists(st.none() | _VALUES[kind], min_size=rows, max_size=rows))
        columns[name] = pa.array(values, kind)
    table = pa.table(columns) if columns else pa.table({})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    body = sink.getvalue().to_pybytes()
    cut = draw(st.integers(0, len(body)))
    return body if draw(st.booleans()) else body[:cut]


schemathesis.openapi.media_type(
    "application/vnd.apache.arrow.stream", st.one_of(st.binary(max_size=512), _stream())
)
