"""Warehouse connections: profile targets, Arrow batch streaming, uploads."""
from __future__ import annotations

import textwrap

import pyarrow as pa
import pytest

from featurewarehouse.config import load_config
from featurewarehouse.errors import ConfigError
from featurewarehouse.offline.warehouse import PostgresWarehouse, connect, postgres_uri, read_target


def _project(tmp_path, monkeypatch):
    (tmp_path / "dbt_project.yml").write_text("name: featurewarehouse\nprofile: featurewarehouse\n")
    (tmp_path / "profiles.yml").write_text(
        textwrap.dedent(
            """
            featurewarehouse:
              target: dev
              outputs:
                dev: {type: duckdb, path: "{{ env_var('FW_DUCKDB_PATH', 'wh.duckdb') }}", schema: main}
                postgres: {type: postgres, host: "{{ env_var('FW_PG_HOST', '127.0.0.1') }}", port: 5432, user: postgres,
                           password: "{{ env_var('FW_PG_PASSWORD', '') }}", dbname: test, schema: fw}
            """
        )
    )
    monkeypatch.delenv("FW_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("FW_TARGET", raising=False)
    return load_config(tmp_path)


def test_duckdb_streams_batches_and_uploads(tmp_path, monkeypatch):
    cfg = _project(tmp_path, monkeypatch)
    with connect(cfg) as wh:
        batches = list(wh.stream("select range as i from range(200000)", batch_rows=50_000))
        assert sum(b.num_rows for b in batches) == 200_000
        assert len(batches) >= 4  # streamed, not one table
        rel = wh.upload_arrow("spine", pa.table({"k": [1, 2, 3]}))
        assert wh.fetch_arrow(f"select sum(k) as s from {rel}").column("s")[0].as_py() == 6
        assert wh.relation_exists(rel) and not wh.relation_exists('"nope"')
    assert (tmp_path / "wh.duckdb").exists()  # relative to the project


def test_unknown_target_suggests(tmp_path, monkeypatch):
    cfg = _project(tmp_path, monkeypatch)
    from dataclasses import replace

    with pytest.raises(ConfigError, match="did you mean 'postgres'"):
        read_target(replace(cfg, target="postgre"))


def test_postgres_uri_quotes_and_redacts():
    uri = postgres_uri({"user": "a b", "password": "p@ss", "host": "h", "port": 1, "dbname": "d"})
    assert uri == "postgresql://a%20b:p%40ss@h:1/d"


def test_postgres_streams_batches(postgres_uri, pg_schema):
    wh = PostgresWarehouse(postgres_uri)
    try:
        rel = wh.upload_arrow(f"fw_up_{pg_schema}", pa.table({"k": list(range(1000))}))
        total = sum(b.num_rows for b in wh.stream(f"select k from {rel}"))
        assert total == 1000
        assert wh.fetch_arrow(f"select sum(k)::bigint as s from {rel}").column("s")[0].as_py() == 499500
    finally:
        wh.close()


def test_empty_results_keep_their_schema(tmp_path, monkeypatch, postgres_uri):
    cfg = _project(tmp_path, monkeypatch)
    with connect(cfg) as wh:
        empty = wh.fetch_arrow("select 1::bigint as a, 'x' as b where false")
        assert empty.num_rows == 0 and empty.column_names == ["a", "b"]
    pg = PostgresWarehouse(postgres_uri)
    try:
        empty = pg.fetch_arrow("select 1::bigint as a where false")
        assert empty.num_rows == 0 and empty.column_names == ["a"]
    finally:
        pg.close()
