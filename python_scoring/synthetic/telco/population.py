"""The subscriber population: static traits drawn once, the state at the start month, and the
static tables (``subscribers`` and the pre-window ``activated`` events)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from python_scoring.synthetic.telco.catalog import (
    _AGE_BANDS,
    _AGE_DATA_MEDIAN_MB,
    _AGE_P,
    _AGE_VOICE_MEDIAN_MIN,
    _CHANNELS,
    _CONTRACT_P_BY_AGE,
    _CONTRACT_TERM,
    _CONTRACTS,
    _D_INCIDENT_P,
    _D_INCIDENT_SCALE,
    _D_NOISE,
    _D_RHO,
    _GENDERS,
    _HAZARD_BASE,
    _HAZARD_D,
    _JOIN_RATE,
    _LADDERS,
    _OUTAGE_P,
    _OUTAGE_SIZE,
    _PKG_DATA,
    _PKG_DOWN,
    _PKG_FEE,
    _PKG_ID,
    _PKG_UP,
    _PREPAID_MAX_PKG,
    _REGION_P,
    _REGIONS,
    TABLE_SCHEMAS,
    _add_months,
    _sigmoid,
    _strings,
)
from python_scoring.synthetic.telco.events import _events_table


class _Population:
    """Static subscriber traits (drawn once) and the per-subscriber state at the start month.
    The base of ``world._World``, which sets ``config``, ``start`` and ``start_month_no``
    before calling ``_draw_population``."""

    # ---- static traits -----------------------------------------------------------------
    def _draw_population(self, rng: np.random.Generator) -> None:
        cfg = self.config
        n0 = cfg.n_subscribers
        joiners = rng.poisson(_JOIN_RATE * n0, size=cfg.n_months)
        n = n0 + int(joiners.sum())
        self.n = n
        # month index (0-based within the window) in which the subscriber joins; -1 = base
        self.join_month = np.concatenate(
            [np.full(n0, -1, np.int16), np.repeat(np.arange(cfg.n_months, dtype=np.int16), joiners)]
        )

        # Activation: the base over the previous 8 years, skewed to recent (survivors),
        # joiners on a random day of their month.
        months_ago = np.arange(1, 97)
        p_ago = np.exp(-months_ago / 45.0)
        ago = rng.choice(months_ago, size=n0, p=p_ago / p_ago.sum())
        act_month = np.concatenate([-ago, self.join_month[n0:].astype(np.int64)])
        first = (self.start.astype("datetime64[M]") + act_month).astype("datetime64[D]")
        length = ((first.astype("datetime64[M]") + 1).astype("datetime64[D]") - first).astype(
            np.int64
        )
        self.activation = first + (rng.random(n) * length).astype(np.int64)
        self.act_month_no = self.start_month_no + act_month  # months since 1970-01

        # Subscriber ids: 11-digit numbers 13xxxxxxxxx, a random permutation spread over the
        # range (unique, last digit uniform, unrelated to activation order).
        stride = max(1, 1_000_000_000 // n)
        self.subscriber_id = (
            13_000_000_000
            + rng.permutation(n).astype(np.int64) * stride
            + rng.integers(0, stride, n)
        )

        self.age = rng.choice(len(_AGE_BANDS), size=n, p=_AGE_P).astype(np.int8)
        self.gender = (rng.random(n) < 0.51).astype(np.int8)  # 0=F, 1=M
        self.region = rng.choice(len(_REGIONS), size=n, p=_REGION_P).astype(np.int8)
        p_online = np.array([0.45, 0.35, 0.25, 0.18, 0.12, 0.06])[self.age]
        u = rng.random(n)
        self.channel = np.select(
            [u < p_online, u < p_online + 0.15, u < p_online + 0.35], [1, 2, 3], 0
        ).astype(np.int8)
        cum = np.cumsum(_CONTRACT_P_BY_AGE, axis=1)[self.age]
        self.contract = (rng.random(n)[:, None] > cum).sum(axis=1).astype(np.int8)
        self.prepaid = self.contract == 0
        self.postpaid = ~self.prepaid

        # Contract end: the base re-signed every term since activation; some let it expire
        # (rolling month to month). Joiners sign a fresh contract.
        term = _CONTRACT_TERM[self.contract]
        has_term = term > 0
        since = self.start_month_no - self.act_month_no
        cycles = np.where(has_term, np.ceil(np.maximum(since, 1) / np.maximum(term, 1)), 0)
        expired = has_term & (since > term) & (rng.random(n) < 0.45)
        cycles = np.where(expired, cycles - 1, cycles).astype(np.int64)
        self.contract_end = _add_months(self.activation, cycles * term)
        self.has_contract_end = has_term

        # Appetites: data/voice/SMS needs, competitor calling, roaming, add-ons.
        self.data_app = _AGE_DATA_MEDIAN_MB[self.age] * rng.lognormal(0.0, 0.8, n)
        self.voice_app = _AGE_VOICE_MEDIAN_MIN[self.age] * rng.lognormal(0.0, 0.7, n)
        self.sms_app = 20.0 * rng.lognormal(0.0, 1.0, n) * np.where(self.age == 0, 1.5, 1.0)
        self.offnet_logit = rng.normal(-1.0, 0.6, n)
        self.roam_prop = rng.beta(0.5, 8.0, n)
        self.addon_app = rng.beta(2.0, 3.0, n) * np.where(self.prepaid, 1.3, 1.0)
        # payment discipline: 0 good, 1 so-so, 2 bad
        self.pay_class = rng.choice(3, size=n, p=(0.85, 0.12, 0.03)).astype(np.int8)
        self.frailty = rng.normal(0.0, 0.45, n)  # unobserved churn proneness

        # Package: chosen for (a noisy view of) the data appetite.
        family = self.postpaid & (
            rng.random(n) < np.where((self.age >= 2) & (self.age <= 3), 0.18, 0.06)
        )
        target = self.data_app * rng.lognormal(0.1, 0.45, n)
        ladder = np.array(_LADDERS[0])
        pick = np.minimum(np.searchsorted(_PKG_DATA[ladder], target), len(ladder) - 1)
        pkg = ladder[pick]
        fam = np.array(_LADDERS[1])
        pkg_fam = fam[np.minimum(np.searchsorted(_PKG_DATA[fam], target * 3), len(fam) - 1)]
        pkg = np.where(family, pkg_fam, pkg)
        pkg = np.where(self.prepaid, np.minimum(pkg, _PREPAID_MAX_PKG), pkg)
        self.pkg = pkg.astype(np.int16)
        # The base may have migrated since activation.
        u = rng.random(n)
        base = self.join_month < 0
        initial = np.where(base & (u < 0.25), _PKG_DOWN[pkg], pkg)
        initial = np.where(base & (u > 0.9), _PKG_UP[pkg], initial)
        initial = np.where(self.prepaid, np.minimum(initial, _PREPAID_MAX_PKG), initial)
        self.initial_pkg = initial.astype(np.int16)

        # Evolving state.
        self.status = np.zeros(n, np.int8)  # 0 not yet joined, 1 active, 2 suspended, 3 gone
        # Dissatisfaction of the base is burnt in to its steady state, including survivorship:
        # the very unhappy have left (replaced by fresh subscribers).
        self.dissat = rng.exponential(0.2, n)
        for _ in range(24):
            leave = rng.random(n) < _sigmoid(_HAZARD_BASE + 0.5 + _HAZARD_D * self.dissat)
            outage = (rng.random(len(_REGIONS)) < _OUTAGE_P)[self.region] * _OUTAGE_SIZE
            self.dissat = self._step_dissat(self.dissat, rng, outage)
            self.dissat[leave] = rng.exponential(0.2, int(leave.sum()))
        self.dissat[~base] = rng.exponential(0.2, n - n0)
        # Some of the base is already behind on payments (so suspensions start in month 1).
        late = self.postpaid & base & (rng.random(n) < np.array([0.03, 0.2, 0.45])[self.pay_class])
        self.arrears_months = (late * (1 + (rng.random(n) < 0.1))).astype(np.int8)
        self.arrears = np.round(
            self.arrears_months * _PKG_FEE[self.pkg] * rng.uniform(0.4, 1.0, n), 2
        )
        self.months_since_addon = np.full(n, 99, np.int16)
        self.util_prev = self.data_app / _PKG_DATA[self.pkg]
        self.bill_ratio_prev = np.ones(n)  # last bill / package fee
        self.status[base] = 1

    @staticmethod
    def _step_dissat(d: np.ndarray, rng: np.random.Generator, outage: np.ndarray) -> np.ndarray:
        size = d.shape[0]
        incident = (rng.random(size) < _D_INCIDENT_P) * rng.exponential(_D_INCIDENT_SCALE, size)
        return np.maximum(0.0, _D_RHO * d + rng.normal(0.0, _D_NOISE, size) + incident + outage)

    def subscribers_table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [
                pa.array(self.subscriber_id, pa.int64()),
                pa.array(self.activation, pa.date32()),
                _strings(_AGE_BANDS, self.age),
                _strings(_GENDERS, self.gender),
                _strings(_REGIONS, self.region),
                _strings(_CHANNELS, self.channel),
                _strings(_CONTRACTS, self.contract),
                pa.array(self.contract_end, pa.date32(), mask=~self.has_contract_end),
                pa.array(_PKG_ID[self.initial_pkg], pa.int32()),
            ],
            schema=TABLE_SCHEMAS["subscribers"],
        )

    def history_events_table(self) -> pa.Table:
        """'activated' events of the base (before the window)."""
        base = np.flatnonzero(self.join_month < 0)
        return _events_table(
            self.subscriber_id[base],
            self.activation[base],
            np.zeros(base.size, np.int8),
            np.zeros(base.size, np.int8),
            np.ones(base.size, bool),
        )
