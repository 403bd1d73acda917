"""``fwctl monitor`` end to end on a small DuckDB project: tables, JSON, exit codes,
history appended, plots written, and its errors."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pytest

from featurewarehouse.cli.main import main


def _project(tmp_path, monkeypatch, shift: float, monitor: dict):
    monkeypatch.chdir(tmp_path)
    for var in ("FW_DUCKDB_PATH", "DBT_TARGET_PATH", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    (tmp_path / "profiles.yml").write_text("p:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: wh.duckdb}\n")
    rng = np.random.default_rng(1)
    day = dt.datetime(2025, 6, 1)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create table fv (customer_id bigint, ts timestamp, amount double)")
    for d, mu in ((0, 100.0), (1, 100.0 + shift)):
        values = rng.normal(mu, 10, 500)
        con.executemany("insert into fv values (?, ?, ?)",
                        [(i, day + dt.timedelta(days=d, seconds=i), float(v)) for i, v in enumerate(values)])
    con.close()
    node = {"resource_type": "model", "name": "fv", "relation_name": '"wh"."main"."fv"',
            "config": {"meta": {"fw": {"kind": "feature_view", "timestamp": "ts", "monitor": monitor}}},
            "columns": {"amount": {"name": "amount", "data_type": "double",
                                   "config": {"meta": {"fw": {"feature": True}}}}}}
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps({"nodes": {"model.p.fv": node}}))
    return tmp_path


def test_a_drift_exits_1_names_it_and_keeps_history(tmp_path, monkeypatch, capsys):
    project = _project(tmp_path, monkeypatch, shift=30, monitor={"blocking": True})
    assert main(["monitor", "--no-plots"]) == 1
    out = capsys.readouterr()
    assert "fv: view fv, day 2025-06-02 vs previous window 2025-06-01" in out.out.replace("\n", " ")
    assert "- fv: amount psi" in out.err and "(blocking)" in out.err
    assert main(["monitor", "--json", "--no-plots", "--baseline", "range:2025-06-01..2025-06-02"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["success"] is False and data["views"][0]["features"][0]["psi"] > 0.2
    assert main(["monitor", "--json", "--no-plots", "--baseline", "range:-1d..-0d"]) == 1  # days before the window
    relative = json.loads(capsys.readouterr().out)["views"][0]
    assert relative["baseline"] == "fv from 2025-06-01 to 2025-06-02 (excluded)"
    assert relative["features"][0]["psi"] == data["views"][0]["features"][0]["psi"]
    assert len(list((project / "target" / "fw_monitor" / "history").glob("*.json"))) == 3


def test_a_stable_view_exits_0_and_draws_a_plot(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="plots need the monitor extra: pip install -e '.[monitor]'")
    project = _project(tmp_path, monkeypatch, shift=0, monitor={})
    assert main(["monitor"]) == 0
    png = project / "target" / "fw_monitor" / "plots" / "fv.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--baseline", "last-week"], "bad baseline 'last-week'"),
    (["--baseline", "range:2025-06-02..2025-06-01"], "empty baseline range"),
    (["--baseline", "training:nope"], "unknown model 'nope'"),
    (["--select", "fw"], "'fw' is not a feature view"),
    (["--current", "served"], "no served log holds features of 'fv'"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, args, message):
    project = _project(tmp_path, monkeypatch, shift=0, monitor={})
    assert main(["monitor", "--no-plots", *args]) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")
    assert not (project / "target" / "fw_monitor").exists()


def test_each_engine_names_its_sql_flavor_and_one_without_is_refused():
    """The flavor comes from the Warehouse class (MONITOR_FLAVOR), not from a table of engine names."""
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.monitoring import sql as _sql
    from featurewarehouse.offline.warehouse import ENGINES, Warehouse, engine_named

    names = {}
    for engine in ENGINES:
        cls = engine_named(engine)
        names[engine] = type(_sql.flavor(object.__new__(cls))).__name__  # no connection needed
    assert names == {"duckdb": "DuckDBFlavor", "postgres": "PostgresFlavor", "spark": "SparkFlavor"}

    class Trino(Warehouse):
        dialect = "trino"

    with pytest.raises(ConfigError, match="fwctl monitor does not run on 'trino' warehouses yet") as err:
        _sql.flavor(Trino())
    assert "MONITOR_FLAVOR" in err.value.hint
