"""Benchmark: `fwctl validate`'s runner on the demo's feature views vs one plain scan per model.

Builds tables of the demo feature views' shape (the columns and types their
committed suites in expectations/ check) directly in DuckDB at a given number
of transactions, then, each in its own process so peak memory is its own:

- baseline: per model, ONE `select count(*), count(c), min(c), max(c), ...`
  over every column the suite touches;
- validation: the committed suites through featurewarehouse.validation.runner
  (Great Expectations' SQL engine on DuckDB), no Data Docs;
- floor: each suite's key-uniqueness query counted, in plain DuckDB with the
  runner's memory limit: a hash aggregate over every row, which no validation
  can skip, while the baseline reads no values at all (DuckDB answers its
  count/min/max from column statistics).

Prints time and peak RSS of the baseline and the validation and their ratio,
and the floor's time and its ratio to the baseline, for each size given,
so memory growth with table size shows directly. Validation time excludes
importing Great Expectations (a fixed cost per process, printed apart);
the scan is timed warm (run once before).

    .venv/bin/python bench/validate.py                      # 1M and 10M transactions
    .venv/bin/python bench/validate.py --sizes 200000       # quick
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VIEWS = ("customer_spend_features", "customer_merchant_features", "merchant_risk_features", "customer_profile_features")


def _suite(view: str) -> dict:
    return json.loads((REPO / "examples" / "fraud" / "expectations" / f"{view}.json").read_text())


def _columns(view: str) -> list[str]:
    return [e["kwargs"]["column"] for e in _suite(view)["expectations"] if e["type"] == "expect_column_to_exist"]


def build(path: str, n: int) -> dict[str, int]:
    """Tables of the feature views' shape; values satisfy the committed suites."""
    import duckdb

    customers = max(n // 40, 10)
    con = duckdb.connect(path)
    con.execute("set preserve_insertion_order = false")
    counts = ", ".join(
        f"cast(1 + (hash(i, {k}) % 50) as bigint) as txn_count_{w}, "
        f"(hash(i, {k + 10}) % 100000) / 100.0 as amount_sum_{w}, "
        f"(hash(i, {k + 20}) % 10000) / 100.0 as amount_avg_{w}"
        for k, w in enumerate(("1h", "24h", "7d", "30d"))
    )
    con.execute(f"""
        create or replace table customer_spend_features as
        select cast(i % {customers} as bigint) as customer_id,
               timestamp '2024-01-01' + to_seconds(i) as event_ts,
               cast(i as bigint) as transaction_id, {counts}
        from range({n}) t(i)""")
    con.execute(f"""
        create or replace table customer_merchant_features as
        select cast(i % {customers} as bigint) as customer_id, cast(hash(i) % 1000 as bigint) as merchant_id,
               timestamp '2024-01-01' + to_seconds(i) as event_ts, cast(i as bigint) as transaction_id,
               cast(1 + hash(i, 1) % 20 as bigint) as pair_txn_count_30d,
               (hash(i, 2) % 100000) / 100.0 as pair_amount_sum_30d,
               cast(1 + hash(i, 3) % 200 as bigint) as pair_txn_count_total
        from range({n}) t(i)""")
    con.execute("""
        create or replace table merchant_risk_features as
        select cast(m as bigint) as merchant_id, timestamp '2024-01-01' + to_days(cast(d as integer)) as feature_ts,
               cast(100 + hash(m, d) % 900 as bigint) as merchant_txn_count_90d,
               cast(hash(m, d, 1) % 10 as bigint) as merchant_chargeback_count_90d,
               cast(hash(m, d, 2) % 5 as bigint) as merchant_fraud_report_count_90d,
               (hash(m, d, 3) % 100) / 1000.0 as chargeback_rate_90d
        from range(1000) a(m), range(365) b(d)""")
    con.execute(f"""
        create or replace table customer_profile_features as
        select cast(c as bigint) as customer_id, timestamp '2023-01-01' + to_days(cast(v * 30 as integer)) as feature_ts,
               (['US', 'DE', 'FR', 'GB'])[cast(1 + hash(c) % 4 as bigint)] as home_country,
               (['debit', 'credit', 'prepaid'])[cast(1 + hash(c, 1) % 3 as bigint)] as card_type,
               (hash(c, 2) % 1000000) / 100.0 as credit_limit,
               cast(hash(c, 3) % 3000 as bigint) as account_age_days
        from range({customers}) a(c), range(2) b(v)""")
    rows = {v: con.execute(f"select count(*) from {v}").fetchone()[0] for v in VIEWS}
    con.close()
    return rows


def phase_baseline(path: str) -> float:
    import duckdb

    con = duckdb.connect(path, read_only=True)
    started = time.perf_counter()
    for view in VIEWS:
        cols = ", ".join(f'count("{c}"), min("{c}"), max("{c}")' for c in _columns(view))
        con.execute(f"select count(*), {cols} from {view}").fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def checks_sql(view: str) -> str:
    """One statement computing every check of the view's suite by hand (unexpected counts)."""
    items, keys = ["count(*)"], None
    for exp in _suite(view)["expectations"]:
        kw, col = exp["kwargs"], f'"{exp["kwargs"].get("column", "")}"'
        kind = exp["type"]
        if kind == "expect_column_values_to_not_be_null":
            items.append(f"count(*) - count({col})")
        elif kind == "expect_column_values_to_be_between":
            bounds = [f"{col} < {kw['min_value']}" if kw.get("min_value") is not None else "",
                      f"{col} > {kw['max_value']}" if kw.get("max_value") is not None else ""]
            items.append(f"count(*) filter (where {' or '.join(b for b in bounds if b) or 'false'})")
        elif kind == "expect_column_values_to_be_in_set":
            items.append(f"count(*) filter (where {col} not in ({', '.join(_literal(v) for v in kw['value_set'])}))")
        elif kind == "expect_column_values_to_match_regex":
            items.append(f"count(*) filter (where not regexp_matches({col}, {_literal(kw['regex'])}))")
        elif kind == "expect_column_max_to_be_between":
            items.append(f"max({col})")
        elif kind == "unexpected_rows_expectation":
            keys = exp["kwargs"]["unexpected_rows_query"].replace("{batch}", view)
    sql = f"select {', '.join(items)} from {view}"
    if keys:  # the uniqueness aggregate, in the same statement
        sql = f"select *, (select count(*) from ({keys}) as q) as duplicated_rows from ({sql}) as checks"
    return sql


def phase_checks(path: str) -> float:
    import duckdb

    from featurewarehouse.validation.gx_duckdb import duckdb_config

    con = duckdb.connect(path, read_only=True, config=duckdb_config())
    started = time.perf_counter()
    for view in VIEWS:
        con.execute(checks_sql(view)).fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def phase_floor(path: str) -> float:
    import duckdb

    from featurewarehouse.validation.gx_duckdb import duckdb_config

    con = duckdb.connect(path, read_only=True, config=duckdb_config())
    queries = [
        exp["kwargs"]["unexpected_rows_query"].replace("{batch}", view)
        for view in VIEWS for exp in _suite(view)["expectations"] if exp["type"] == "unexpected_rows_expectation"
    ]
    started = time.perf_counter()
    for query in queries:
        con.execute(f"select count(*) from ({query}) as q").fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def phase_validate(path: str) -> tuple[float, bool, list, float]:
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (a fixed cost per process, reported apart)

    import_seconds = time.perf_counter() - started
    from featurewarehouse.validation.gx_duckdb import duckdb_creator
from featurewarehouse.validation.runner import SuiteJob, run_suites

    jobs = [SuiteJob(v, "main", v, v, _suite(v), f"expectations/{v}.json") for v in VIEWS]
    started = time.perf_counter()
    out = run_suites(None, jobs, connection=(f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb"))
    elapsed = time.perf_counter() - started
    failed = [(r.model, r.error, [o.label for o in r.failed]) for r in out.results if not r.success]
    return elapsed, not failed, failed, import_seconds


def child(phase: str, path: str, size: int) -> None:
    if phase == "build":
        result = {"rows": build(path, size)}
    elif phase == "baseline":
        result = {"seconds": phase_baseline(path)}
    elif phase == "floor":
        result = {"seconds": phase_floor(path)}
    elif phase == "checks":
        result = {"seconds": phase_checks(path)}
    else:
        seconds, ok, failed, import_seconds = phase_validate(path)
        result = {"seconds": seconds, "ok": ok, "failed": failed, "import_seconds": import_seconds}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(phase: str, path: str, size: int = 0) -> dict:
    # Every phase, the build too, runs in a child: Linux carries a process's peak RSS
    # over fork and exec, so a child of a big parent would report the parent's peak.
    done = subprocess.run([sys.executable, __file__, "--phase", phase, "--db", path, "--size", str(size)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="transactions per run, comma-separated")
    parser.add_argument("--phase", choices=("build", "baseline", "floor", "checks", "validate"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args.phase, args.db, args.size)
        return
    print(f"{'transactions':>12} {'rows (all views)':>16} {'scan s':>8} {'validate s':>10} {'ratio':>7} "
          f"{'scan MB':>8} {'validate MB':>11} {'GX import s':>11} {'floor s':>8} {'floor/scan':>10} "
          f"{'validate/floor':>14} {'checks s':>8} {'validate/checks':>15}")
    with tempfile.TemporaryDirectory(prefix="fw_bench_validate_") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = str(Path(tmp) / f"bench_{size}.duckdb")
            rows = run_child("build", path, size)["rows"]
            run_child("baseline", path)  # warm the OS cache for both phases alike
            base = run_child("baseline", path)
            val = run_child("validate", path)
            if not val["ok"]:
                raise SystemExit(f"validation failed on generated data: {val['failed']}")
            floor = run_child("floor", path)
            run_child("checks", path)  # warm, as the baseline
            checks = run_child("checks", path)
            print(f"{size:>12,} {sum(rows.values()):>16,} {base['seconds']:>8.2f} {val['seconds']:>10.2f} "
                  f"{val['seconds'] / base['seconds']:>6.1f}x {base['peak_rss_mb']:>8.0f} {val['peak_rss_mb']:>11.0f} "
                  f"{val['import_seconds']:>11.1f} {floor['seconds']:>8.2f} {floor['seconds'] / base['seconds']:>9.1f}x "
                  f"{val['seconds'] / floor['seconds']:>13.1f}x {checks['seconds']:>8.2f} "
                  f"{val['seconds'] / checks['seconds']:>14.1f}x")
            Path(path).unlink()


if __name__ == "__main__":
    main()
