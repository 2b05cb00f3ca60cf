"""The month's event tables: status events, tickets and add-on purchases (ids counted on by the
caller)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from python_scoring.synthetic.telco.catalog import (
    _ADDON_MB,
    _ADDON_PRICE,
    _ADDONS,
    _CATEGORIES,
    _EVENT_TYPES,
    _REASONS,
    _SECONDS_PER_DAY,
    _TICKET_MIX,
    _US,
    TABLE_SCHEMAS,
    _sigmoid,
    _strings,
    _timestamps,
)


def _month_events(subscriber_id, idx, month_start, parts) -> pa.Table:
    """``parts``: (who, day of month, event type, reason) -- masks over ``idx``, codes index
    _EVENT_TYPES / _REASONS. One table ordered by date and subscriber."""
    subs, dates, types, reasons = [], [], [], []
    for mask, day, etype, reason in parts:
        sel = np.flatnonzero(mask)
        subs.append(idx[sel])
        dates.append(month_start + (day[sel] - 1))
        types.append(np.full(sel.size, etype, np.int8))
        reasons.append(np.broadcast_to(reason, mask.shape)[sel].astype(np.int8))
    subs_a, dates_a = np.concatenate(subs), np.concatenate(dates)
    types_a, reasons_a = np.concatenate(types), np.concatenate(reasons)
    order = np.lexsort((subscriber_id[subs_a], dates_a))
    return _events_table(
        subscriber_id[subs_a][order],
        dates_a[order],
        types_a[order],
        reasons_a[order],
        types_a[order] != 3,
    )


def _events_table(subscriber_id, dates, types, reasons, reason_null) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array(subscriber_id, pa.int64()),
            pa.array(dates, pa.date32()),
            _strings(_EVENT_TYPES, types),
            _strings(_REASONS, reasons, mask=reason_null),
        ],
        schema=TABLE_SCHEMAS["status_events"],
    )


def _random_moments(rng, first_day, days, skew: float = 1.0) -> np.ndarray:
    """Microseconds since the month start, inside each row's days of service."""
    seconds = (first_day - 1) * _SECONDS_PER_DAY + (
        rng.random(first_day.size) ** skew * days * _SECONDS_PER_DAY
    ).astype(np.int64)
    return seconds * _US


def _tickets(rng, ids, lam, first_day, days, month_start, first_id, window_end_us) -> pa.Table:
    """Tickets of the subscribers ``ids`` (one row each of ``lam``, the rates of the three
    streams), numbered from ``first_id``."""
    total = lam.sum(axis=1)
    counts = rng.poisson(total)
    owner = np.repeat(np.arange(ids.size), counts)
    k = owner.size
    # category from the mixture of the three streams, weighted by their rates
    mix = (lam[owner] @ _TICKET_MIX) / total[owner, None]
    category = (rng.random(k)[:, None] > np.cumsum(mix, axis=1)[:, :-1]).sum(axis=1)
    opened = month_start.astype("datetime64[us]").astype(np.int64) + _random_moments(
        rng, first_day[owner], days[owner]
    )
    hours = rng.lognormal(np.log(20.0), 1.2, k)
    resolved = opened + (hours * 3600 * _US).astype(np.int64)
    p_open = np.where(np.isin(category, (1, 2)), 0.10, 0.05)
    unresolved = (rng.random(k) < p_open) | (resolved >= window_end_us)
    ticket_id = np.arange(first_id, first_id + k, dtype=np.int64)
    return pa.Table.from_arrays(
        [
            pa.array(ticket_id, pa.int64()),
            pa.array(ids[owner], pa.int64()),
            _timestamps(opened),
            _strings(_CATEGORIES, category),
            _timestamps(resolved, mask=unresolved),
        ],
        schema=TABLE_SCHEMAS["tickets"],
    )


def _addon_purchases(rng, ids, n_addons, util, first_day, days, month_start, first_id):
    """Add-on purchases of the subscribers ``ids``, numbered from ``first_id``; also the add-on
    MB and cost per subscriber."""
    owner = np.repeat(np.arange(ids.size), n_addons)
    k = owner.size
    # bigger packs when further over the allowance
    big = _sigmoid(1.5 * (util[owner] - 1.2))
    u = rng.random(k)
    code = np.where(u < 0.55 - 0.3 * big, 0, np.where(u < 0.9 - 0.2 * big, 1, 2))
    addon_mb = np.bincount(owner, weights=_ADDON_MB[code], minlength=ids.size)
    addon_cost = np.bincount(owner, weights=_ADDON_PRICE[code], minlength=ids.size)
    # purchases cluster late in the service window, when the allowance runs out
    moment = month_start.astype("datetime64[us]").astype(np.int64) + _random_moments(
        rng, first_day[owner], days[owner], skew=0.6
    )
    purchase_id = np.arange(first_id, first_id + k, dtype=np.int64)
    table = pa.Table.from_arrays(
        [
            pa.array(purchase_id, pa.int64()),
            pa.array(ids[owner], pa.int64()),
            _timestamps(moment),
            _strings(_ADDONS, code),
            pa.array(_ADDON_MB[code], pa.int32()),
            pa.array(_ADDON_PRICE[code], pa.float64()),
        ],
        schema=TABLE_SCHEMAS["addon_purchases"],
    )
    return table, addon_mb, addon_cost
