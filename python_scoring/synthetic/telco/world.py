"""Deterministic synthetic telecom operator data (the raw ``telco`` source tables).

The simulated world
-------------------
A mobile operator with a catalog of 12 packages on two fee ladders (individual: basic -> data ->
unlimited, and family). ``n_subscribers`` subscribers are active at the start month, activated
over the previous ~8 years; new subscribers join every month (~3 % of the base), so the population
is not fixed. Each subscriber has static traits (age band, region, channel, contract type, data /
voice / SMS appetite, competitor-calling habit, add-on appetite, payment discipline, an unobserved
churn "frailty") and evolving state, simulated month by month with numpy arrays (no Python loop
over subscribers):

* **Dissatisfaction** ``D >= 0``: an AR(1)-like latent state fed by random incidents and regional
  network outages. It lowers voice/data/SMS usage (and so overage revenue), raises complaint
  tickets (mostly network_coverage / data_speed) and the share of minutes to competitor networks,
  and drives voluntary churn / port-out. Because churners' ``D`` rises in the months before they
  leave, their usage declines before the churn month.
* **Churn hazard** (monthly, logistic): ``D``, short tenure, contract lock-in (strongly protective
  until ~2 months before the contract end, a spike around the end, mildly raised after expiry),
  prepaid, paying for a package far above usage, bill shock, plus noise the data never shows
  (frailty, the current month's incidents) so churn is learnable but not perfectly.
* **Payments**: postpaid subscribers sometimes pay late/partially; two months of arrears lead to a
  suspension, and next month either a resume (arrears paid) or a ``non_payment`` deactivation.
  Prepaid subscribers never have arrears.
* **Data add-ons**: purchase probability rises sharply when usage approaches/exceeds the package
  allowance, scaled by a per-subscriber appetite. Add-on data reduces overage charges.
* **Package migration** (effective next month): up-sell when usage exceeds the allowance or
  add-ons were bought recently, down-sell when usage is far below the allowance or the subscriber
  is unhappy.
* **Drift** (optional, from ``drift_month`` on): data usage x~1.8 with a wider spread, voice
  minutes x0.6 and a 25 % price rise, so PSI against the previous month is far above 0.25.

Package changes are not a table of their own: they show as month-to-month changes of
``billing_monthly.package_id``.

Billed amount = prorated fee + data/voice overage (capped) + roaming + add-on purchases. Monthly
tables use the first day of the month; events and timestamps fall inside their month (a ticket
may be resolved after its month ends; tickets still open at the end of the window have a null
``resolved_at``). Dirt: ~0.3 % null ``data_mb`` (mediation gaps).

Nothing here touches a database: :func:`generate_telco` yields ``(table_name, pyarrow.Table)``
chunks (the static tables once, the monthly tables one chunk per month) and the caller writes
them. Same config -> byte-identical chunks: every month draws from its own seeded stream.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["TABLE_SCHEMAS", "GeneratorConfig", "generate_telco"]


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. ``validate()`` (also run by :func:`generate_telco`) raises ``ValueError``
    for an unusable config; construction itself never fails, so callers handle one error path."""

    n_subscribers: int = 50_000  # subscribers present at the start month
    n_months: int = 12
    start_month: datetime.date = datetime.date(2025, 1, 1)  # first day of a month
    seed: int = 42
    drift_month: datetime.date | None = None  # from this month on, inject a distribution drift

    def validate(self) -> None:
        def is_int(value: object) -> bool:
            return isinstance(value, int | np.integer) and not isinstance(value, bool)

        def is_month(value: object) -> bool:
            return (
                isinstance(value, datetime.date)
                and not isinstance(value, datetime.datetime)
                and value.day == 1
            )

        if not is_int(self.n_subscribers) or self.n_subscribers < 100:
            raise ValueError(f"n_subscribers must be an int >= 100, got {self.n_subscribers!r}")
        if not is_int(self.n_months) or self.n_months < 4:
            raise ValueError(f"n_months must be an int >= 4, got {self.n_months!r}")
        if not is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if not is_month(self.start_month):
            raise ValueError(
                f"start_month must be a datetime.date on the first day of a month, "
                f"got {self.start_month!r}"
            )
        if self.drift_month is not None:
            if not is_month(self.drift_month):
                raise ValueError(
                    f"drift_month must be None or a datetime.date on the first day of a month, "
                    f"got {self.drift_month!r}"
                )
            last = _add_month_date(self.start_month, self.n_months - 1)
            if not self.start_month <= self.drift_month <= last:
                raise ValueError(
                    f"drift_month {self.drift_month} is outside the generated range "
                    f"{self.start_month} .. {last}"
                )


def _add_month_date(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "packages": pa.schema(
        [
            ("package_id", pa.int32()),
            ("package_name", pa.string()),
            ("package_group", pa.string()),
            ("monthly_fee", pa.float64()),
            ("data_allowance_mb", pa.int32()),
            ("voice_allowance_min", pa.int32()),
        ]
    ),
    "subscribers": pa.schema(
        [
            ("subscriber_id", pa.int64()),
            ("activation_date", pa.date32()),
            ("age_band", pa.string()),
            ("gender", pa.string()),
            ("region", pa.string()),
            ("sales_channel", pa.string()),
            ("contract_type", pa.string()),
            ("contract_end_date", pa.date32()),
            ("initial_package_id", pa.int32()),
        ]
    ),
    "status_events": pa.schema(
        [
            ("subscriber_id", pa.int64()),
            ("event_date", pa.date32()),
            ("event_type", pa.string()),
            ("reason", pa.string()),
        ]
    ),
    "usage_monthly": pa.schema(
        [
            ("subscriber_id", pa.int64()),
            ("usage_month", pa.date32()),
            ("voice_minutes", pa.float64()),
            ("offnet_voice_minutes", pa.float64()),
            ("data_mb", pa.float64()),
            ("sms_count", pa.int32()),
            ("roaming_minutes", pa.float64()),
            ("days_active", pa.int32()),
        ]
    ),
    "billing_monthly": pa.schema(
        [
            ("subscriber_id", pa.int64()),
            ("bill_month", pa.date32()),
            ("package_id", pa.int32()),
            ("billed_amount", pa.float64()),
            ("paid_amount", pa.float64()),
            ("arrears_amount", pa.float64()),
        ]
    ),
    "tickets": pa.schema(
        [
            ("ticket_id", pa.int64()),
            ("subscriber_id", pa.int64()),
            ("opened_at", pa.timestamp("us")),
            ("category", pa.string()),
            ("resolved_at", pa.timestamp("us")),
        ]
    ),
    "addon_purchases": pa.schema(
        [
            ("purchase_id", pa.int64()),
            ("subscriber_id", pa.int64()),
            ("purchased_at", pa.timestamp("us")),
            ("addon_code", pa.string()),
            ("addon_data_mb", pa.int32()),
            ("price", pa.float64()),
        ]
    ),
}

# --------------------------------------------------------------------------------------------
# Catalogs
# --------------------------------------------------------------------------------------------

# (id, name, group, monthly fee, data allowance MB, voice allowance min)
_PACKAGES = (
    (1, "Basic S", "basic", 9.99, 1_024, 100),
    (2, "Basic M", "basic", 14.99, 3_072, 300),
    (3, "Basic L", "basic", 19.99, 5_120, 500),
    (4, "Data 10", "data", 24.99, 10_240, 500),
    (5, "Data 20", "data", 29.99, 20_480, 750),
    (6, "Data 40", "data", 39.99, 40_960, 1_000),
    (7, "Data 60", "data", 49.99, 61_440, 1_500),
    (8, "Unlimited", "unlimited", 59.99, 153_600, 5_000),  # fair-use caps
    (9, "Unlimited Max", "unlimited", 79.99, 307_200, 10_000),
    (10, "Family 2", "family", 44.99, 30_720, 2_000),
    (11, "Family 4", "family", 64.99, 61_440, 4_000),
    (12, "Family XL", "family", 89.99, 102_400, 6_000),
)
_PKG_ID = np.array([p[0] for p in _PACKAGES], dtype=np.int32)
_PKG_FEE = np.array([p[3] for p in _PACKAGES])
_PKG_DATA = np.array([p[4] for p in _PACKAGES], dtype=np.float64)
_PKG_VOICE = np.array([p[5] for p in _PACKAGES], dtype=np.float64)
# Migration moves one step along a fee ladder (package indices, ordered by fee).
_LADDERS = ((0, 1, 2, 3, 4, 5, 6, 7, 8), (9, 10, 11))
_PKG_UP = np.arange(len(_PACKAGES))
_PKG_DOWN = np.arange(len(_PACKAGES))
for _ladder in _LADDERS:
    for _a, _b in zip(_ladder[:-1], _ladder[1:], strict=True):
        _PKG_UP[_a], _PKG_DOWN[_b] = _b, _a
_PREPAID_MAX_PKG = 4  # prepaid offers end at "Data 20"

_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_P = (0.12, 0.22, 0.21, 0.19, 0.15, 0.11)
_AGE_DATA_MEDIAN_MB = np.array([12_000.0, 10_000.0, 7_000.0, 5_000.0, 3_000.0, 1_500.0])
_AGE_VOICE_MEDIAN_MIN = np.array([150.0, 220.0, 270.0, 280.0, 290.0, 300.0])
_GENDERS = ("F", "M")
_REGIONS = ("Capital", "North", "South", "East", "West", "Central", "Coast", "Highlands")
_REGION_P = (0.26, 0.13, 0.13, 0.12, 0.12, 0.10, 0.08, 0.06)
_CHANNELS = ("store", "online", "telesales", "agent")
_CONTRACTS = ("prepaid", "monthly", "contract_12m", "contract_24m")
_CONTRACT_TERM = np.array([0, 0, 12, 24])
# contract type mix by age band: the young are more often prepaid
_CONTRACT_P_BY_AGE = np.array(
    [
        [0.50, 0.20, 0.15, 0.15],
        [0.32, 0.22, 0.20, 0.26],
        [0.25, 0.20, 0.22, 0.33],
        [0.24, 0.20, 0.22, 0.34],
        [0.28, 0.22, 0.20, 0.30],
        [0.35, 0.25, 0.18, 0.22],
    ]
)
_EVENT_TYPES = ("activated", "suspended", "resumed", "deactivated")
_REASONS = ("voluntary", "port_out", "non_payment")
_CATEGORIES = ("billing", "network_coverage", "data_speed", "customer_service", "other")
# category mix of the three ticket streams: routine, dissatisfaction complaints, billing issues
_TICKET_MIX = np.array(
    [
        [0.30, 0.07, 0.07, 0.21, 0.35],
        [0.02, 0.40, 0.36, 0.20, 0.02],
        [0.85, 0.00, 0.00, 0.10, 0.05],
    ]
)
_ADDONS = ("DATA_1GB", "DATA_5GB", "DATA_10GB")
_ADDON_MB = np.array([1_024, 5_120, 10_240], dtype=np.int32)
_ADDON_PRICE = np.array([4.99, 14.99, 24.99])

# --------------------------------------------------------------------------------------------
# World parameters, tuned so that monthly churn is ~2-3 % and a LightGBM on lag / 3-month
# average / month-over-month features, tickets, tenure and contract months left reaches an
# out-of-time AUC of ~0.84 (a model knowing the true hazard would get ~0.88).
# --------------------------------------------------------------------------------------------

_JOIN_RATE = 0.03  # new subscribers per month, as a share of the starting base
_D_RHO = 0.85  # persistence of dissatisfaction
_D_NOISE = 0.2
_D_INCIDENT_P, _D_INCIDENT_SCALE = 0.06, 1.2  # personal incidents (bad experience)
_OUTAGE_P, _OUTAGE_SIZE = 0.08, 0.5  # per region and month: network outage
_HAZARD_BASE = -6.05
_HAZARD_D = 2.0  # on last month's dissatisfaction (visible in last month's data)
_HAZARD_D_NOW = 0.4  # this month's incidents: the unpredictable part
_RESUME_P = 0.55  # suspended subscribers that pay and resume next month
# Drift: existing data use x1.3 plus a new streaming habit of ~4 GB for everyone (mean ~x1.8,
# much less skewed), voice x0.6, prices +25 %.
_DRIFT_DATA_SCALE, _DRIFT_STREAM_MB, _DRIFT_VOICE, _DRIFT_PRICE = 1.3, 4_000.0, 0.6, 1.25

_SECONDS_PER_DAY = 86_400
_US = 1_000_000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _add_months(dates: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """datetime64[D] + whole months, clipping the day to the target month's length."""
    month = dates.astype("datetime64[M]")
    day = (dates - month.astype("datetime64[D]")).astype(np.int64)
    target = month + months
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return target.astype("datetime64[D]") + np.minimum(day, length - 1)


def _strings(categories: tuple[str, ...], codes: np.ndarray, mask=None) -> pa.Array:
    """Categorical codes -> arrow string array (null where ``mask``)."""
    return pa.array(categories, pa.string()).take(pa.array(codes, pa.int32(), mask=mask))


def _timestamps(us: np.ndarray, mask=None) -> pa.Array:
    return pa.array(us, pa.timestamp("us"), mask=mask)


def _packages_table() -> pa.Table:
    columns = list(zip(*_PACKAGES, strict=True))
    return pa.Table.from_arrays(
        [
            pa.array(col, type=field.type)
            for col, field in zip(columns, TABLE_SCHEMAS["packages"], strict=True)
        ],
        schema=TABLE_SCHEMAS["packages"],
    )


class _World:
    """Static subscriber traits (drawn once) and the evolving per-subscriber state."""

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
        events = self._month_events(
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
        addons, addon_mb, addon_cost = self._addon_purchases(
            rng, rows, n_addons, util, first_day[has_row], days[has_row], month_start
        )
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
        tickets = self._tickets(rng, rows, lam, first_day[has_row], days[has_row], month_start)

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

    def _month_events(self, idx, month_start, parts) -> pa.Table:
        subs, dates, types, reasons = [], [], [], []
        for mask, day, etype, reason in parts:
            sel = np.flatnonzero(mask)
            subs.append(idx[sel])
            dates.append(month_start + (day[sel] - 1))
            types.append(np.full(sel.size, etype, np.int8))
            reasons.append(np.broadcast_to(reason, mask.shape)[sel].astype(np.int8))
        subs_a, dates_a = np.concatenate(subs), np.concatenate(dates)
        types_a, reasons_a = np.concatenate(types), np.concatenate(reasons)
        order = np.lexsort((self.subscriber_id[subs_a], dates_a))
        return _events_table(
            self.subscriber_id[subs_a][order],
            dates_a[order],
            types_a[order],
            reasons_a[order],
            types_a[order] != 3,
        )

    def _random_moments(self, rng, first_day, days, skew: float = 1.0) -> np.ndarray:
        """Microseconds since the month start, inside each row's days of service."""
        seconds = (first_day - 1) * _SECONDS_PER_DAY + (
            rng.random(first_day.size) ** skew * days * _SECONDS_PER_DAY
        ).astype(np.int64)
        return seconds * _US

    def _tickets(self, rng, rows, lam, first_day, days, month_start) -> pa.Table:
        total = lam.sum(axis=1)
        counts = rng.poisson(total)
        owner = np.repeat(np.arange(rows.size), counts)
        k = owner.size
        # category from the mixture of the three streams, weighted by their rates
        mix = (lam[owner] @ _TICKET_MIX) / total[owner, None]
        category = (rng.random(k)[:, None] > np.cumsum(mix, axis=1)[:, :-1]).sum(axis=1)
        opened = month_start.astype("datetime64[us]").astype(np.int64) + self._random_moments(
            rng, first_day[owner], days[owner]
        )
        hours = rng.lognormal(np.log(20.0), 1.2, k)
        resolved = opened + (hours * 3600 * _US).astype(np.int64)
        p_open = np.where(np.isin(category, (1, 2)), 0.10, 0.05)
        unresolved = (rng.random(k) < p_open) | (resolved >= self.window_end_us)
        ticket_id = np.arange(self.next_ticket_id, self.next_ticket_id + k, dtype=np.int64)
        self.next_ticket_id += k
        return pa.Table.from_arrays(
            [
                pa.array(ticket_id, pa.int64()),
                pa.array(self.subscriber_id[rows[owner]], pa.int64()),
                _timestamps(opened),
                _strings(_CATEGORIES, category),
                _timestamps(resolved, mask=unresolved),
            ],
            schema=TABLE_SCHEMAS["tickets"],
        )

    def _addon_purchases(self, rng, rows, n_addons, util, first_day, days, month_start):
        owner = np.repeat(np.arange(rows.size), n_addons)
        k = owner.size
        # bigger packs when further over the allowance
        big = _sigmoid(1.5 * (util[owner] - 1.2))
        u = rng.random(k)
        code = np.where(u < 0.55 - 0.3 * big, 0, np.where(u < 0.9 - 0.2 * big, 1, 2))
        addon_mb = np.bincount(owner, weights=_ADDON_MB[code], minlength=rows.size)
        addon_cost = np.bincount(owner, weights=_ADDON_PRICE[code], minlength=rows.size)
        # purchases cluster late in the service window, when the allowance runs out
        moment = month_start.astype("datetime64[us]").astype(np.int64) + self._random_moments(
            rng, first_day[owner], days[owner], skew=0.6
        )
        purchase_id = np.arange(self.next_purchase_id, self.next_purchase_id + k, dtype=np.int64)
        self.next_purchase_id += k
        table = pa.Table.from_arrays(
            [
                pa.array(purchase_id, pa.int64()),
                pa.array(self.subscriber_id[rows[owner]], pa.int64()),
                _timestamps(moment),
                _strings(_ADDONS, code),
                pa.array(_ADDON_MB[code], pa.int32()),
                pa.array(_ADDON_PRICE[code], pa.float64()),
            ],
            schema=TABLE_SCHEMAS["addon_purchases"],
        )
        return table, addon_mb, addon_cost


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


def generate_telco(config: GeneratorConfig) -> Iterator[tuple[str, pa.Table]]:
    """Yield ``(table_name, chunk)`` pairs for the raw telco tables.

    Order: ``packages``, ``subscribers`` (everyone ever seen in the window), the pre-window
    ``activated`` events, then per month ``status_events``, ``usage_monthly``,
    ``billing_monthly``, ``tickets``, ``addon_purchases`` (one chunk each, possibly empty).
    Every chunk has exactly ``TABLE_SCHEMAS[table_name]``; the same config yields identical
    chunks. Raises ``ValueError`` (immediately) for an invalid config.
    """
    config.validate()
    return _generate(config)


def _generate(config: GeneratorConfig) -> Iterator[tuple[str, pa.Table]]:
    world = _World(config)
    yield "packages", _packages_table()
    yield "subscribers", world.subscribers_table()
    yield "status_events", world.history_events_table()
    for m in range(config.n_months):
        yield from world.simulate_month(m)
