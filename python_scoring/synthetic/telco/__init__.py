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

from collections.abc import Iterator

import pyarrow as pa

from python_scoring.synthetic.telco.catalog import TABLE_SCHEMAS, GeneratorConfig, _packages_table
from python_scoring.synthetic.telco.world import _World

__all__ = ["TABLE_SCHEMAS", "GeneratorConfig", "generate_telco"]


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
