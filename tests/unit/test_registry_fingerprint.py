"""Fingerprints: formatting and comments keep them; logic moves them."""
from __future__ import annotations

import pytest
from registry_support import ENTITIES, SERVICES, SPEND, STG, manifest

from featurewarehouse.registry.builder import build_from_manifest
from featurewarehouse.registry.fingerprint import fingerprint_sql

BASE = """
with t as (select customer_id, event_ts, amount from "stg_transactions")
select customer_id, event_ts,
       sum(amount) over (partition by customer_id order by event_ts
                         range between interval 7 days preceding and current row) as amount_sum_7d
from t
"""

SAME = [
    # whitespace, newlines, keyword case, comments (line and block), alias without AS
    " ".join(BASE.split()),
    BASE.upper().replace('"STG_TRANSACTIONS"', '"stg_transactions"'),
    "-- trailing spend\n" + BASE.replace("from t\n", "from t /* the CTE */\n"),
    BASE.replace(") as amount_sum_7d", ") amount_sum_7d"),
    "\t" + BASE.replace("    ", "\t") + "\n\n",
]
DIFFERENT = [
    BASE.replace("interval 7 days", "interval 8 days"),
    BASE.replace("sum(amount)", "avg(amount)"),
    BASE.replace("as amount_sum_7d", "as amount_total_7d"),
    BASE.replace("partition by customer_id order", "partition by customer_id, event_ts order"),
    BASE.replace("from t\n", "from t where amount > 0\n"),
    BASE.replace('"stg_transactions"', '"stg_payments"'),
    BASE.replace("current row", "unbounded following"),
]


def test_formatting_and_comments_keep_the_fingerprint():
    base = fingerprint_sql(BASE)
    assert [fingerprint_sql(s) for s in SAME] == [base] * len(SAME)


@pytest.mark.parametrize("sql", DIFFERENT)
def test_logic_changes_move_the_fingerprint(sql):
    assert fingerprint_sql(sql) != fingerprint_sql(BASE)


def test_quoted_identifier_case_is_logic():
    assert fingerprint_sql('select "Amount" from t') != fingerprint_sql('select "amount" from t')
    assert fingerprint_sql("select Amount from t") == fingerprint_sql("select amount from t")


def test_untokenizable_sql_raises_and_unparseable_sql_still_has_one():
    with pytest.raises(ValueError):
        fingerprint_sql("select 'unterminated")
    # a model sqlglot cannot parse still gets a fingerprint: tokens suffice
    assert fingerprint_sql("select from where (") != fingerprint_sql("select from where ((")


def test_operator_spelling_is_not_logic():
    assert fingerprint_sql("select a from t where a <> 1") == fingerprint_sql("select a from t where a != 1")


def _fp(m):
    return build_from_manifest(m, ENTITIES, feature_services=SERVICES).registry.view("customer_spend_features").fingerprint


def test_build_fingerprint_ignores_where_the_warehouse_lives():
    """The same model compiled against another database file has the same fingerprint."""
    base = _fp(manifest())
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = "{% set unused = 1 %}" + m["nodes"][SPEND]["raw_code"]  # force compiled code
    for db in ("wh", "other_place"):
        m["nodes"][STG]["relation_name"] = f'"{db}"."main"."stg_transactions"'
        m["nodes"][SPEND]["compiled_code"] = (
            "-- trailing spend per customer, one row per transaction\nwith txns as (\n"
            f'    select * from "{db}"."main"."stg_transactions"\n)\n\n'
            + manifest()["nodes"][SPEND]["raw_code"].split(")\n\n", 1)[1])
        assert _fp(m) == base


def test_build_fingerprint_formatting_vs_logic():
    base = _fp(manifest())
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace("\n", "\n  -- note\n", 3)
    assert _fp(m) == base
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace("interval 7 days", "interval 6 days", 1)
    assert _fp(m) != base
