"""The month-by-month simulation of the telco world (see the package docstring)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from python_scoring.synthetic.telco.catalog import (
    _D_RHO,
    _DRIFT_DATA_SCALE,
    _DRIFT_PRICE,
    _DRIFT_STREAM_MB,
    _DRIFT_VOICE,
    _HAZARD_BASE,
    _HAZARD_D,
    _HAZARD_D_NOW,
    _OUTAGE_P,
    _OUTAGE_SIZE,
    _PKG_DATA,
    _PKG_DOWN,
    _PKG_FEE,
    _PKG_ID,
    _PKG_UP,
    _PKG_VOICE,
    _PREPAID_MAX_PKG,
    _REGIONS,
    _RESUME_P,
    TABLE_SCHEMAS,
    GeneratorConfig,
    _add_months,
    _sigmoid,
)
from python_scoring.synthetic.telco.events import _addon_purchases, _month_events, _tickets
from python_scoring.synthetic.telco.population import _Population


class _World(_Population):
    """Static subscriber traits (drawn once, see ``_Population``) and the evolving
    per-subscriber state, simulated one month at a time."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.start = np.datetime64(config.start_month, "D")
        self.start_month_no = int(self.start.astype("datetime64[M]").astype(np.int64))
        self.window_end_us = (
            _add_months(np.array([self.start]), config.n_months)[0]
            .astype("datetime64[us]")
            .astype(np.int64)
        )
        self.drift_index = (
            None
            if config.drift_month is None
            else int(np.datetime64(config.drift_month, "M").astype(np.int64)) - self.start_month_no
        )
        self.next_ticket_id = 1_000_001
        self.next_purchase_id = 5_000_001
        self._draw_population(np.random.default_rng([config.seed, 0]))

    # ---- one month ---------------------------------------------------------------------
    def simulate_month(self, m: int) -> list[tuple[str, pa.Table]]:
        rng = np.random.default_rng([self.config.seed, 1 + m])
        month_start = (self.start.astype("datetime64[M]") + m).astype("datetime64[D]")
        nd = int(
            (
                (month_start.astype("datetime64[M]") + 1).astype("datetime64[D]") - month_start
            ).astype(np.int64)
        )
        month_no = self.start_month_no + m
        calendar_month = month_no % 12 + 1
        drift = self.drift_index is not None and m >= self.drift_index

        is_joiner = self.join_month == m
        self.status[is_joiner] = 1
        idx = np.flatnonzero((self.status == 1) | (self.status == 2))
        n = idx.size
        new = is_joiner[idx]
        was_susp = self.status[idx] == 2

        # Dissatisfaction evolves (joiners start fresh); regional network outages hit everyone
        # in the region at once.
        outage_regions = rng.random(len(_REGIONS)) < _OUTAGE_P
        outage = outage_regions[self.region[idx]] * _OUTAGE_SIZE
        d_prev = self.dissat[idx]
        d = self._step_dissat(d_prev, rng, outage)
        d = np.where(new, d_prev, d)
        self.dissat[idx] = d

        # Suspended last month: pay and resume early in the month, or get cut off.
        u = rng.random(n)
        p_cut = np.where(self.pay_class[idx] == 2, 0.65, 1.0 - _RESUME_P)
        cut = was_susp & (u < p_cut)
        resumed = was_susp & ~cut
        resume_day = rng.integers(1, 13, n)
        cut_day = rng.integers(1, nd + 1, n)

        # Voluntary churn hazard (not in the joining month, not while suspended).
        tenure = month_no - self.act_month_no[idx]
        contract_end = self.contract_end[idx]
        months_left = (contract_end - month_start).astype(np.float64) / 30.44
        has_end = self.has_contract_end[idx]
        locked = has_end & (months_left > 2.0)
        ending = has_end & (months_left > 0.0) & (months_left <= 2.0)
        expired = has_end & (months_left <= 0.0)
        fee = _PKG_FEE[self.pkg[idx]]
        overpaying = (fee >= 20.0) * np.clip((0.3 - self.util_prev[idx]) / 0.3, 0.0, 1.0)
        logit = (
            _HAZARD_BASE
            + _HAZARD_D * d_prev
            + _HAZARD_D_NOW * (d - _D_RHO * d_prev)
            + np.select([tenure < 3, tenure < 12, tenure >= 60], [0.9, 0.45, -0.3], 0.0)
            - 1.6 * locked
            + 1.0 * ending
            + 0.25 * expired
            + 0.5 * self.prepaid[idx]
            + 0.6 * overpaying
            + 0.4 * (self.bill_ratio_prev[idx] > 1.4)
            + self.frailty[idx]
        )
        leave = ~new & ~was_susp & (rng.random(n) < _sigmoid(logit))
        leave_day = rng.integers(1, nd + 1, n)
        port_out = rng.random(n) < 0.25 + 0.45 * _sigmoid(2.0 * (d - 1.5))

        # Two months of arrears -> suspension during this month.
        suspend = (
            ~new
            & ~was_susp
            & ~leave
            & self.postpaid[idx]
            & (self.arrears_months[idx] >= 2)
            & (self.arrears[idx] > 0.6 * fee)
            & (rng.random(n) < 0.9)
        )
        suspend_day = rng.integers(3, 21, n)

        # Days in service this month (1-based inclusive window).
        act_day = (self.activation[idx] - month_start).astype(np.int64) + 1
        first_day = np.where(new, act_day, np.where(resumed, resume_day, 1))
        last_day = np.full(n, nd)
        last_day = np.where(leave, leave_day - 1, last_day)
        last_day = np.where(suspend, suspend_day - 1, last_day)
        last_day = np.where(cut, 0, last_day)
        days = np.maximum(last_day - first_day + 1, 0)

        # (who, day of month, event type, reason) -- codes index _EVENT_TYPES / _REASONS
        events = _month_events(
            self.subscriber_id,
            idx,
            month_start,
            [
                (new, act_day, 0, 0),
                (suspend, suspend_day, 1, 0),
                (resumed, resume_day, 2, 0),
                (cut, cut_day, 3, 2),
                (leave, leave_day, 3, np.where(port_out, 1, 0)),
            ],
        )

        gone = leave | cut
        status = np.where(gone, 3, np.where(suspend, 2, 1)).astype(np.int8)
        self.status[idx] = status

        # ---- usage ---------------------------------------------------------------------
        has_row = days > 0
        rows = idx[has_row]
        r = rows.size
        d = d[has_row]
        frac = days[has_row] / nd
        pkg = self.pkg[rows]
        allow_data = _PKG_DATA[pkg] * frac
        allow_voice = _PKG_VOICE[pkg] * frac
        season = 1.0 + 0.03 * np.sin(2 * np.pi * (calendar_month - 3) / 12)
        growth = 1.008**m
        data = (
            self.data_app[rows]
            * growth
            * season
            * frac
            * np.exp(-0.5 * d)
            * rng.lognormal(-0.01, 0.15, r)
        )
        voice = self.voice_app[rows] * frac * np.exp(-0.45 * d) * rng.lognormal(-0.01, 0.12, r)
        if drift:
            # A new video app everyone uses; voice moves to OTT apps.
            data = _DRIFT_DATA_SCALE * data + frac * rng.lognormal(np.log(_DRIFT_STREAM_MB), 0.5, r)
            voice *= _DRIFT_VOICE
        offnet_share = _sigmoid(self.offnet_logit[rows] + 0.8 * d + rng.normal(0.0, 0.25, r))
        offnet = voice * offnet_share
        sms = rng.poisson(self.sms_app[rows] * frac * np.exp(-0.2 * d)).astype(np.int32)
        summer = calendar_month in (6, 7, 8)
        p_roam = self.roam_prop[rows] * (2.5 if summer else 1.5 if calendar_month == 12 else 1.0)
        roaming = (rng.random(r) < p_roam) * rng.lognormal(np.log(40.0), 0.9, r) * frac

        # ---- add-ons: likely when usage nears/exceeds the allowance ----------------------
        util = data / allow_data
        p_addon = 0.004 + 0.9 * self.addon_app[rows] * _sigmoid(8.0 * (util - 0.95))
        n_addons = (rng.random(r) < p_addon) * (1 + rng.poisson(0.2 + 0.5 * (util > 1.5)))
        addons, addon_mb, addon_cost = _addon_purchases(
            rng,
            self.subscriber_id[rows],
            n_addons,
            util,
            first_day[has_row],
            days[has_row],
            month_start,
            self.next_purchase_id,
        )
        self.next_purchase_id += addons.num_rows
        self.months_since_addon[rows] = np.where(
            n_addons > 0, 0, np.minimum(self.months_since_addon[rows] + 1, 99)
        )

        # ---- billing and payment ---------------------------------------------------------
        price = _DRIFT_PRICE if drift else 1.0
        fee_charge = _PKG_FEE[pkg] * frac * price
        overage_mb = np.maximum(0.0, data - allow_data - addon_mb)
        data_charge = np.minimum(25.0, 2.5 * overage_mb / 1024.0)
        voice_charge = np.minimum(15.0, 0.05 * np.maximum(0.0, voice - allow_voice))
        billed = np.round(fee_charge + data_charge + voice_charge + 0.29 * roaming + addon_cost, 2)
        arrears_prev = self.arrears[rows]
        behaviour = rng.random(r)
        p_full = np.array([0.97, 0.80, 0.55])[self.pay_class[rows]]
        p_part = np.array([0.02, 0.12, 0.20])[self.pay_class[rows]]
        paid = np.where(
            behaviour < p_full,
            billed + arrears_prev,
            np.where(behaviour < p_full + p_part, billed * rng.uniform(0.2, 0.8, r), 0.0),
        )
        paid = np.where(suspend[has_row], 0.0, paid)  # cut off for not paying
        paid = np.where(resumed[has_row], billed + arrears_prev, paid)  # paid to get back
        paid = np.where(self.prepaid[rows], billed, np.round(paid, 2))
        arrears = np.maximum(0.0, np.round(arrears_prev + billed - paid, 2))
        self.arrears[rows] = arrears
        self.arrears_months[rows] = np.where(
            arrears > 0.005, np.minimum(self.arrears_months[rows] + 1, 12), 0
        )
        self.bill_ratio_prev[rows] = billed / np.maximum(fee_charge, 0.01)
        self.util_prev[rows] = np.where(frac >= 0.5, data / allow_data, self.util_prev[rows])

        # ---- tickets ---------------------------------------------------------------------
        lam = (
            np.stack(
                [
                    np.full(r, 0.04),
                    0.25 * d,  # complaints grow with dissatisfaction
                    0.25
                    * ((data_charge + voice_charge > 5.0) | (arrears_prev > 0) | suspend[has_row]),
                ],
                axis=1,
            )
            * frac[:, None]
        )
        tickets = _tickets(
            rng,
            self.subscriber_id[rows],
            lam,
            first_day[has_row],
            days[has_row],
            month_start,
            self.next_ticket_id,
            self.window_end_us,
        )
        self.next_ticket_id += tickets.num_rows

        # ---- package migration, effective next month --------------------------------------
        stays = status[has_row] == 1
        p_up = (
            0.004
            + 0.12 * _sigmoid(5.0 * (util - 1.1))
            + 0.06 * (self.months_since_addon[rows] <= 1)
        )
        p_down = 0.004 + 0.04 * (util < 0.2) + 0.03 * (d > 2.0)
        u = rng.random(r)
        new_pkg = np.where(u < p_up, _PKG_UP[pkg], np.where(u < p_up + p_down, _PKG_DOWN[pkg], pkg))
        new_pkg = np.where(self.prepaid[rows], np.minimum(new_pkg, _PREPAID_MAX_PKG), new_pkg)
        self.pkg[rows] = np.where(stays, new_pkg, pkg)

        # ---- assemble ------------------------------------------------------------------
        month_col = pa.array(np.full(r, month_start), pa.date32())
        ids = pa.array(self.subscriber_id[rows], pa.int64())

        # round in float64: rounding float32 state would store 28.200000762939453
        def tenths(x: np.ndarray) -> np.ndarray:
            return np.round(x.astype(np.float64), 1)

        data_obs = pa.array(tenths(data), pa.float64(), mask=rng.random(r) < 0.003)
        usage = pa.Table.from_arrays(
            [
                ids,
                month_col,
                pa.array(tenths(voice), pa.float64()),
                pa.array(tenths(offnet), pa.float64()),
                data_obs,
                pa.array(sms, pa.int32()),
                pa.array(tenths(roaming), pa.float64()),
                pa.array(days[has_row].astype(np.int32), pa.int32()),
            ],
            schema=TABLE_SCHEMAS["usage_monthly"],
        )
        billing = pa.Table.from_arrays(
            [
                ids,
                month_col,
                pa.array(_PKG_ID[pkg], pa.int32()),
                pa.array(billed, pa.float64()),
                pa.array(paid, pa.float64()),
                pa.array(arrears, pa.float64()),
            ],
            schema=TABLE_SCHEMAS["billing_monthly"],
        )
        return [
            ("status_events", events),
            ("usage_monthly", usage),
            ("billing_monthly", billing),
            ("tickets", tickets),
            ("addon_purchases", addons),
        ]
