"""A deterministic, vectorized generator of card payments and fraud reports.

It writes four Parquet files under ``<out>`` (default ``data/raw``):

- ``customers.parquet``: one row per customer *version* (a slowly changing
  dimension: card upgrades, credit-limit changes, moves to another country);
- ``merchants.parquet``: merchants with category and country;
- ``transactions.parquet``: card transactions with event and ingestion time,
  including a few duplicates (retried deliveries) and late arrivals;
- ``chargebacks.parquet``: fraud reports and disputes, reported days to weeks
  after the transaction, only those reported before the end of the data.

Everything is drawn with NumPy in whole arrays (no Python loop per row), in
chunks of days written as Parquet row groups, so memory stays bounded at any
size. The same ``DemoSpec`` gives byte-identical files.

>>> spec = DemoSpec(rows=2_000, seed=7)
>>> spec.customers, spec.merchants
(200, 50)
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from featurewarehouse.errors import ConfigError

DEFAULT_ROWS = 200_000
DEFAULT_SEED = 42
DEFAULT_DAYS = 180
# A fixed default end keeps "same seed, same bytes"; pass end=today to anchor the
# data to the present (the online store's TTLs are measured from now).
DEFAULT_END = dt.date(2025, 7, 1)
CHUNK_ROWS = 500_000
TABLES = ("customers", "merchants", "transactions", "chargebacks")
MANIFEST = "_dataset.json"

# country -> (currency, units per USD, share of customers)
COUNTRIES = {
    "US": ("USD", 1.0, 0.34), "GB": ("GBP", 0.79, 0.12), "DE": ("EUR", 0.92, 0.11),
    "FR": ("EUR", 0.92, 0.09), "NL": ("EUR", 0.92, 0.05), "ES": ("EUR", 0.92, 0.05),
    "CA": ("CAD", 1.36, 0.07), "AU": ("AUD", 1.52, 0.05), "JP": ("JPY", 150.0, 0.04),
    "BR": ("BRL", 5.0, 0.04), "MX": ("MXN", 17.0, 0.02), "SE": ("SEK", 10.5, 0.02),
}
# category -> (median amount in USD, share of merchants)
CATEGORIES = {
    "grocery": (38.0, 0.22), "restaurants": (27.0, 0.2), "fuel": (45.0, 0.1),
    "online_services": (15.0, 0.12), "apparel": (60.0, 0.1), "electronics": (180.0, 0.07),
    "travel": (320.0, 0.06), "pharmacy": (22.0, 0.08), "jewelry": (420.0, 0.02),
    "gaming": (25.0, 0.03),
}
CARD_TYPES = ("debit", "credit", "prepaid")
CHANNELS = ("chip", "contactless", "online", "swipe")
# Share of transactions per hour of day (UTC): quiet nights, lunch and evening peaks.
HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.6, 4.2, 4.6, 5.2,
     6.0, 5.6, 4.8, 4.6, 4.9, 5.6, 6.4, 6.6, 5.8, 4.4, 3.0, 1.8], dtype=float
)
FAVORITE_MERCHANTS = 4
DRIFT_FACTOR = 2.0


@dataclass(frozen=True)
class DemoSpec:
    """What to generate. ``rows`` counts distinct transactions (duplicates come on top)."""

    rows: int = DEFAULT_ROWS
    seed: int = DEFAULT_SEED
    days: int = DEFAULT_DAYS
    end: dt.date = DEFAULT_END
    customers: int = field(default=0)
    merchants: int = field(default=0)
    fraud_burst_rate: float = 0.0006  # bursts per transaction
    fraud_background_rate: float = 0.0004
    dispute_rate: float = 0.0008
    report_rate: float = 0.85  # share of fraud that is ever reported
    duplicate_rate: float = 0.001
    late_rate: float = 0.004
    # A planted drift for `fwctl monitor` to catch: ordinary purchases in the last
    # drift_days days cost DRIFT_FACTOR times as much (a pricing or currency bug
    # upstream). 0, the default, plants nothing and leaves every byte as before.
    drift_days: int = 0

    def __post_init__(self) -> None:
        if self.rows < 100:
            raise ConfigError(f"--rows must be at least 100, got {self.rows}", hint="try --rows 200000")
        if self.days < 14:
            raise ConfigError(f"--days must be at least 14, got {self.days}", hint="try --days 180")
        if not 0 <= self.drift_days < self.days:
            raise ConfigError(f"--drift-days must be between 0 and --days - 1, got {self.drift_days}",
                              hint="try --drift-days 7")
        if not self.customers:
            object.__setattr__(self, "customers", max(50, self.rows // 10 if self.rows < 20_000 else self.rows // 40))
        if not self.merchants:
            object.__setattr__(self, "merchants", max(20, self.rows // 40 if self.rows < 20_000 else self.rows // 200))

    @property
    def start(self) -> dt.date:
        return self.end - dt.timedelta(days=self.days)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["end"] = self.end.isoformat()
        d["start"] = self.start.isoformat()
        if not self.drift_days:  # the default dataset's manifest stays byte-identical
            del d["drift_days"]
        return d


@dataclass(frozen=True)
class GenerateResult:
    out_dir: Path
    spec: DemoSpec
    row_counts: dict[str, int]


def _epoch_s(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())


def _ts(seconds: np.ndarray):
    """Epoch seconds -> Arrow timestamp[us] (naive, UTC)."""
    import pyarrow as pa

    return pa.array(seconds.astype("int64") * 1_000_000, type=pa.timestamp("us"))


def _pick(rng: np.random.Generator, values: tuple | list, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(values), size=n, p=w / w.sum())


class _World:
    """Customers and merchants, and the per-entity arrays transactions draw from."""

    def __init__(self, spec: DemoSpec, rng: np.random.Generator):
        self.spec = spec
        n_c, n_m = spec.customers, spec.merchants
        self.country_names = list(COUNTRIES)
        country_share = [v[2] for v in COUNTRIES.values()]
        # customers: most existed before the window, some sign up during it
        existing = rng.random(n_c) < 0.7
        self.signup_day = np.where(
            existing, -rng.integers(1, 3 * 365, n_c), rng.integers(0, spec.days - 7, n_c)
        )
        self.signup_s = _epoch_s(spec.start) + self.signup_day * 86_400 + rng.integers(0, 86_400, n_c)
        self.home = _pick(rng, self.country_names, country_share, n_c)
        self.activity = rng.lognormal(0.0, 1.0, n_c)  # heavy users and occasional ones
        self.card = _pick(rng, CARD_TYPES, [0.45, 0.47, 0.08], n_c)
        # merchants: popularity is Zipf-like, a few are risky (fraud gravitates there)
        self.m_category = _pick(rng, list(CATEGORIES), [v[1] for v in CATEGORIES.values()], n_m)
        self.m_country = _pick(rng, self.country_names, country_share, n_m)
        ranks = rng.permutation(n_m) + 1
        self.popularity = 1.0 / ranks**0.9
        self.popularity /= self.popularity.sum()
        self.risky = rng.random(n_m) < 0.03
        if not self.risky.any():
            self.risky[0] = True
        self.m_created_s = _epoch_s(spec.start) - rng.integers(30, 5 * 365, n_m) * 86_400
        self.favorites = rng.choice(n_m, size=(n_c, FAVORITE_MERCHANTS), p=self.popularity)
        self.rng_customers = rng.spawn(1)[0]

    def customers_table(self):
        """One row per customer version: the first at signup, later ones on change."""
        import pyarrow as pa

        rng = self.rng_customers
        n_c = self.spec.customers
        limit = np.round(rng.lognormal(np.log(5000), 0.6, n_c), -2)
        ids = np.arange(1, n_c + 1, dtype=np.int64)
        cols = {"customer_id": [ids], "home": [self.home], "card": [self.card], "limit": [limit],
                "updated": [self.signup_s]}
        current = {"home": self.home.copy(), "card": self.card.copy(), "limit": limit.copy()}
        last = self.signup_s.copy()
        changed = rng.random(n_c) < 0.12
        for _ in range(2):  # up to two later versions; each pass draws whole arrays
            idx = np.flatnonzero(changed & (last < _epoch_s(self.spec.end) - 2 * 86_400))
            lo = np.maximum(last[idx], _epoch_s(self.spec.start))
            when = lo + (rng.random(idx.size) * (_epoch_s(self.spec.end) - lo)).astype(np.int64)
            what = rng.integers(0, 3, idx.size)
            home, card, lim = current["home"][idx], current["card"][idx], current["limit"][idx]
            what = np.where((what == 1) & (card == 1), 2, what)  # a credit card gets a higher limit instead
            home = np.where(what == 0, rng.integers(0, len(COUNTRIES), idx.size), home)
            card = np.where(what == 1, 1, card)  # upgrades to credit
            lim = np.where(what == 2, np.round(lim * 1.5, -2), lim)
            for key, val in (("home", home), ("card", card), ("limit", lim)):
                current[key][idx] = val
                cols[key].append(val)
            cols["customer_id"].append(ids[idx])
            cols["updated"].append(when)
            last[idx] = when
            changed = np.zeros(n_c, dtype=bool)
            changed[idx] = rng.random(idx.size) < 0.25
        cid = np.concatenate(cols["customer_id"])
        updated = np.concatenate(cols["updated"])
        order = np.lexsort((updated, cid))
        card = np.concatenate(cols["card"])[order]
        limit_all = np.concatenate(cols["limit"])[order]
        return pa.table({
            "customer_id": pa.array(cid[order]),
            "home_country": pa.array(np.array(self.country_names)[np.concatenate(cols["home"])[order]]),
            "card_type": pa.array(np.array(CARD_TYPES)[card]),
            # only credit cards have a limit
            "credit_limit": pa.array(limit_all, mask=card != 1, type=pa.float64()),
            "signup_ts": _ts(self.signup_s[cid[order] - 1]),
            "updated_at": _ts(updated[order]),
        })

    def merchants_table(self):
        import pyarrow as pa
        import pyarrow.compute as pc

        n_m = self.spec.merchants
        ids = np.arange(1, n_m + 1, dtype=np.int64)
        return pa.table({
            "merchant_id": pa.array(ids),
            "merchant_name": pc.binary_join_element_wise(
                "Merchant ", pc.utf8_lpad(pc.cast(pa.array(ids), pa.string()), width=6, padding="0"), ""
            ),
            "category": pa.array(np.array(list(CATEGORIES))[self.m_category]),
            "country": pa.array(np.array(self.country_names)[self.m_country]),
            "created_at": _ts(self.m_created_s),
        })


def _day_chunks(spec: DemoSpec, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows per day (weekends busier, slow growth), grouped into chunks of whole days."""
    d = np.arange(spec.days)
    weekday = (np.array([spec.start.weekday()]) + d) % 7
    weight = (1.0 + 0.15 * (weekday >= 5)) * (1.0 + 0.3 * d / spec.days)
    counts = rng.multinomial(spec.rows, weight / weight.sum())
    chunks, start, acc = [], 0, 0
    for i, c in enumerate(counts.tolist()):  # one step per day, not per row
        acc += c
        if acc >= CHUNK_ROWS or i == spec.days - 1:
            chunks.append((d[start:i + 1], counts[start:i + 1]))
            start, acc = i + 1, 0
    return chunks


def _transactions_chunk(world: _World, days: np.ndarray, counts: np.ndarray, rng: np.random.Generator):
    """Arrays for one chunk of days, ordered by event time, ids not yet assigned."""
    spec = world.spec
    n = int(counts.sum())
    t0 = _epoch_s(spec.start)
    eligible = np.flatnonzero(world.signup_day < days[0])
    if eligible.size == 0:  # tiny specs: someone must be able to pay
        eligible = np.argsort(world.signup_day, kind="stable")[:1]
    # fraud bursts: a compromised card used several times within an hour or two
    n_bursts = min(int(rng.poisson(n * spec.fraud_burst_rate)), max(1, n // 50))
    sizes = 2 + rng.geometric(0.3, n_bursts)
    n_burst = int(sizes.sum())
    n_legit = n - n_burst
    p = world.activity[eligible] / world.activity[eligible].sum()
    cust = eligible[rng.choice(eligible.size, n_legit, p=p)]
    day = days[rng.choice(days.size, n_legit, p=counts / n)]
    secs = t0 + day * 86_400 + _pick(rng, range(24), HOUR_WEIGHTS, n_legit) * 3600 + rng.integers(0, 3600, n_legit)
    from_fav = rng.random(n_legit) < 0.65
    merch = np.where(
        from_fav,
        world.favorites[cust, rng.integers(0, FAVORITE_MERCHANTS, n_legit)],
        rng.choice(world.spec.merchants, n_legit, p=world.popularity),
    )
    abroad = rng.random(n_legit) < 0.07
    country = np.where(abroad, rng.integers(0, len(COUNTRIES), n_legit), world.home[cust])
    channel = _pick(rng, CHANNELS, [0.42, 0.3, 0.25, 0.03], n_legit)
    median = np.array([v[0] for v in CATEGORIES.values()])[world.m_category[merch]]
    usd = rng.lognormal(np.log(median), 0.8)
    tail = rng.random(n_legit) < 0.01  # a Pareto tail of very large purchases
    usd = np.where(tail, usd * (1.0 + rng.pareto(1.5, n_legit)), usd)
    if spec.drift_days:  # no random draw here: every other column stays as without the drift
        usd = np.where(day >= spec.days - spec.drift_days, usd * DRIFT_FACTOR, usd)
    fraud = rng.random(n_legit) < spec.fraud_background_rate

    b_id = np.repeat(np.arange(n_bursts), sizes)
    b_cust = eligible[rng.integers(0, eligible.size, n_bursts)][b_id]
    b_start = t0 + days[rng.integers(0, days.size, n_bursts)] * 86_400 + rng.integers(0, 20 * 3600, n_bursts)
    gaps = rng.exponential(480.0, n_burst).astype(np.int64)
    first = np.cumsum(sizes) - sizes  # index of each burst's first row
    within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], sizes)
    b_secs = np.minimum(b_start[b_id] + within, _epoch_s(spec.end) - 1)
    risky = np.flatnonzero(world.risky)
    b_merch = np.where(
        rng.random(n_burst) < 0.6,
        risky[rng.integers(0, risky.size, n_burst)],
        rng.choice(world.spec.merchants, n_burst, p=world.popularity),
    )
    b_country = np.where(rng.random(n_burst) < 0.7, rng.integers(0, len(COUNTRIES), n_burst), world.home[b_cust])
    b_channel = np.where(rng.random(n_burst) < 0.8, 2, 3)  # online or magstripe
    b_usd = rng.lognormal(np.log(250.0), 0.9, n_burst)

    out = {
        "customer": np.concatenate((cust, b_cust)), "merchant": np.concatenate((merch, b_merch)),
        "event": np.concatenate((secs, b_secs)), "country": np.concatenate((country, b_country)),
        "channel": np.concatenate((channel, b_channel)), "usd": np.concatenate((usd, b_usd)),
        "fraud": np.concatenate((fraud, np.ones(n_burst, dtype=bool))),
    }
    order = np.argsort(out["event"], kind="stable")
    return {k: v[order] for k, v in out.items()}


def _finish_chunk(world: _World, c: dict, id_offset: int, rng: np.random.Generator):
    """Ids, currency amounts, ingestion times, duplicates; returns (transactions, chargeback arrays)."""
    import pyarrow as pa

    spec = world.spec
    n = c["event"].size
    txn_id = id_offset + np.arange(1, n + 1, dtype=np.int64)
    currency = np.array([v[0] for v in COUNTRIES.values()])[c["country"]]
    rate = np.array([v[1] for v in COUNTRIES.values()])[c["country"]]
    decimals = np.where(currency == "JPY", 0, 2)
    amount = np.round(c["usd"] * rate * 10.0**decimals) / 10.0**decimals
    amount = np.maximum(amount, 1.0 / 10.0**decimals)
    lag = 1 + rng.exponential(20.0, n).astype(np.int64)
    late = rng.random(n) < spec.late_rate  # arrives hours to days after the event
    lag = np.where(late, (rng.lognormal(np.log(6 * 3600), 1.0, n)).astype(np.int64), lag)
    ingested = c["event"] + lag
    dup = np.flatnonzero(rng.random(n) < spec.duplicate_rate)  # redelivered by the processor
    rows = np.concatenate((np.arange(n), dup))
    ing = np.concatenate((ingested, ingested[dup] + rng.integers(1, 900, dup.size)))
    order = rows[np.argsort(ing, kind="stable")]
    ing = np.sort(ing, kind="stable")
    table = pa.table({
        "transaction_id": pa.array(txn_id[order]),
        "customer_id": pa.array(c["customer"][order].astype(np.int64) + 1),
        "merchant_id": pa.array(c["merchant"][order].astype(np.int64) + 1),
        "amount": pa.array(amount[order]),
        "currency": pa.array(currency[order]),
        "country": pa.array(np.array(world.country_names)[c["country"][order]]),
        "channel": pa.array(np.array(CHANNELS)[c["channel"][order]]),
        "event_ts": _ts(c["event"][order]),
        "ingested_at": _ts(ing),
    })
    # chargebacks: most fraud is reported days to weeks later; a few disputes on good payments
    reported_fraud = c["fraud"] & (rng.random(n) < spec.report_rate)
    dispute = ~c["fraud"] & (rng.random(n) < spec.dispute_rate)
    delay_days = np.where(
        reported_fraud, rng.lognormal(np.log(12.0), 0.7, n), rng.lognormal(np.log(20.0), 0.5, n)
    )
    delay = (np.clip(delay_days, 1.0, 120.0) * 86_400).astype(np.int64)
    hit = np.flatnonzero((reported_fraud | dispute) & (c["event"] + delay < _epoch_s(spec.end)))
    cb = {"txn": txn_id[hit], "reported": c["event"][hit] + delay[hit], "fraud": reported_fraud[hit],
          "amount": amount[hit], "currency": currency[hit]}
    return table, cb


def _chargebacks_table(cb: dict, cb_offset: int, rng: np.random.Generator, dup_rate: float):
    import pyarrow as pa

    n = cb["txn"].size
    order = np.argsort(cb["reported"], kind="stable")
    ids = cb_offset + np.arange(1, n + 1, dtype=np.int64)
    dup = np.flatnonzero(rng.random(n) < dup_rate * 5)  # the same report sent twice
    rows = np.concatenate((order, order[dup]))
    ids = np.concatenate((ids, ids[dup]))
    return pa.table({
        "chargeback_id": pa.array(ids),
        "transaction_id": pa.array(cb["txn"][rows]),
        "reported_at": _ts(cb["reported"][rows]),
        "reason": pa.array(np.where(cb["fraud"][rows], "fraud", "dispute")),
        "amount": pa.array(cb["amount"][rows]),
        "currency": pa.array(cb["currency"][rows]),
    })


def existing_dataset(out_dir: Path) -> list[Path]:
    return [out_dir / f"{t}.parquet" for t in TABLES if (out_dir / f"{t}.parquet").exists()]


def generate(
    spec: DemoSpec,
    out_dir: Path | str,
    *,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> GenerateResult:
    """Write the demo dataset under ``out_dir``; atomic per run (a temp dir, then renames)."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    found = existing_dataset(out)
    if found and not force:
        raise ConfigError(
            f"demo data already exists: {', '.join(p.name for p in found)}",
            where=str(out),
            hint="pass --force to overwrite it, or --out to write elsewhere",
        )
    out.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(spec.seed)
    world_seq, days_seq, chunks_seq = root.spawn(3)
    world = _World(spec, np.random.default_rng(world_seq))
    chunks = _day_chunks(spec, np.random.default_rng(days_seq))
    counts = {t: 0 for t in TABLES}
    tmp = Path(tempfile.mkdtemp(prefix=".generating-", dir=out))
    try:
        for name, table in (("customers", world.customers_table()), ("merchants", world.merchants_table())):
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
            counts[name] = table.num_rows
        writers: dict[str, pq.ParquetWriter] = {}
        done = id_offset = cb_offset = 0
        for seq, (days, day_counts) in zip(chunks_seq.spawn(len(chunks)), chunks):
            rng = np.random.default_rng(seq)
            arrays = _transactions_chunk(world, days, day_counts, rng)
            txns, cb = _finish_chunk(world, arrays, id_offset, rng)
            cbs = _chargebacks_table(cb, cb_offset, rng, spec.duplicate_rate)
            for name, table in (("transactions", txns), ("chargebacks", cbs)):
                if name not in writers:
                    writers[name] = pq.ParquetWriter(tmp / f"{name}.parquet", table.schema, compression="zstd")
                writers[name].write_table(table, row_group_size=CHUNK_ROWS)
                counts[name] += table.num_rows
            id_offset += arrays["event"].size
            cb_offset += cb["txn"].size
            done += int(day_counts.sum())
            if on_progress:
                on_progress(done, spec.rows)
        for w in writers.values():
            w.close()
        manifest = {"spec": spec.to_dict(), "row_counts": counts, "generator": "featurewarehouse.demo.generate/1"}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for name in (*[f"{t}.parquet" for t in TABLES], MANIFEST):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return GenerateResult(out, spec, counts)
