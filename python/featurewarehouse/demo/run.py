"""The demo flow behind ``fwctl demo``: a plain sequence of steps.

1. data      generate the default card-payments dataset if it is missing;
2. load      on a server warehouse (PostgreSQL, Spark), load the raw Parquet into <schema>_raw;
3. build     ONE ``dbt build`` of the whole project (models and their tests);
4. summary   the models built and their row counts;
5. registry  the feature registry, from the manifest that build wrote (no second dbt run);
6. validate  every model's Great Expectations suite, in the warehouse; a failure stops here;
7. sync      the latest values of the online feature views into the online store (gated);
8. read      one online read back, as a model would do it.

Library code: no printing; progress goes through the callbacks.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.demo.generate import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    DemoSpec,
    GenerateResult,
    existing_dataset,
    generate,
    TABLES,
)
from featurewarehouse.demo.load import LoadResult, load_raw_tables, raw_data_dir

ProgressFn = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    kind: str  # the model's meta.fw.kind, or "staging"/"model"
    status: str
    rows: int | None


@dataclass(frozen=True)
class DemoRun:
    data_dir: Path
    target: str
    generated: GenerateResult | None
    loaded: LoadResult | None
    build_seconds: float
    models: tuple[ModelSummary, ...]
    tests_passed: int
    timings: dict[str, float] = field(default_factory=dict)
    registry_version: str = ""
    validation: dict[str, int] = field(default_factory=dict)
    sync: Any = None  # featurewarehouse.online.sync.SyncReport
    online_read: Any = None  # featurewarehouse.serving.client.OnlineFeatures
    read_features: tuple[str, ...] = ()
    read_entities: dict[str, list] = field(default_factory=dict)


def demo_spec(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, end: dt.date | None = None) -> DemoSpec:
    """The dataset the demo uses: anchored to today (UTC) unless ``end`` is given, so that
    feature TTLs, measured from now by the online store, see fresh values."""
    return DemoSpec(rows=rows, seed=seed, end=end or dt.datetime.now(dt.timezone.utc).date())


def ensure_data(
    config: ProjectConfig, spec: DemoSpec, *, on_progress: ProgressFn | None = None
) -> tuple[Path, GenerateResult | None]:
    """Step 1: generate the dataset unless a complete one is already there."""
    data_dir = raw_data_dir(config)
    if len(existing_dataset(data_dir)) == len(TABLES):
        return data_dir, None
    progress = (lambda done, total: on_progress("generate", done, total)) if on_progress else None
    return data_dir, generate(spec, data_dir, force=True, on_progress=progress)


def build(config: ProjectConfig):
    """Step 3: one ``dbt build`` of the project; raises ChecksFailed when a model or test fails."""
    from featurewarehouse.dbt import run_dbt

    return run_dbt(config, ["build"], quiet=True)


def summarize(config: ProjectConfig, dbt_result) -> tuple[tuple[ModelSummary, ...], int]:
    """Step 4: what dbt built, with row counts read back from the warehouse."""
    from featurewarehouse.offline.warehouse import connect

    models, tests = [], 0
    for r in dbt_result.result.results:
        node = r.node
        if node.resource_type == "test":
            tests += str(r.status) == "pass"
            continue
        if node.resource_type != "model":
            continue
        fw = (node.config.meta or {}).get("fw") or {}
        kind = fw.get("kind") or ("staging" if node.name.startswith("stg_") else "model")
        models.append((node.name, kind, str(r.status), node.relation_name))
    out = []
    with connect(config) as wh:
        for name, kind, status, relation in models:
            rows = None
            if relation and status == "success":
                rows = int(wh.fetch_arrow(f"select count(*) as n from {relation}").column(0)[0].as_py())
            out.append(ModelSummary(name, kind, status, rows))
    order = {"staging": 0, "feature_view": 1, "label": 2, "training_set": 3, "feature_log": 4}
    out.sort(key=lambda m: (order.get(m.kind, 5), m.name))
    return tuple(out), tests


def run_demo(
    config: ProjectConfig,
    spec: DemoSpec | None = None,
    *,
    on_progress: ProgressFn | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoRun:
    """The main demo job: the steps of the module docstring, each timed."""
    from featurewarehouse.offline.warehouse import engine_class, read_target

    step = on_step or (lambda _: None)
    spec = spec or demo_spec()
    timings: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(name: str):
        step(name)
        t0 = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - t0

    with timed("data"):
        data_dir, generated = ensure_data(config, spec, on_progress=on_progress)
    loaded = None
    if not engine_class(read_target(config)).READS_PARQUET_SOURCES:
        with timed("load"):
            loaded = load_raw_tables(config, data_dir, on_progress=on_progress)
    with timed("build"):
        result = build(config)
    with timed("summary"):
        models, tests = summarize(config, result)
    with timed("registry"):
        registry = build_registry_from_build(config)
    with timed("validate"):
        validation = validate_all(config)
    with timed("sync"):
        sync = sync_all(config, registry)
    step("read")
    features, entities = sample_request(config, registry)
    online = read_online(config, features, entities)
    return DemoRun(
        data_dir, config.target, generated, loaded, timings["build"], models, tests, timings,
        registry_version=registry.version, validation=validation, sync=sync, online_read=online,
        read_features=tuple(features), read_entities=entities,
    )


def build_registry_from_build(config: ProjectConfig):
    """Step 5: the registry from the manifest (with compiled SQL) that ``dbt build`` just wrote."""
    from featurewarehouse.registry.builder import build_registry

    return build_registry(config, dbt_command=None).registry


def validate_all(config: ProjectConfig) -> dict[str, int]:
    """Step 6: run every suite; raise ChecksFailed naming the failures, so nothing unvalidated is synced."""
    from featurewarehouse.errors import ChecksFailed
    from featurewarehouse.validation.run import summary, validate

    run = validate(config, docs=False)
    counts = summary(run.results)
    failed = [r.model for r in run.results if not r.success]
    if failed:
        raise ChecksFailed(
            f"validation failed for {len(failed)} model(s): {', '.join(failed)}",
            where=str(run.report_path),
            hint="run `fwctl validate` to see the failed expectations",
        )
    return counts


def sync_all(config: ProjectConfig, registry):
    """Step 7: sync every online view, through the validation gate."""
    from featurewarehouse.online.sync import sync_online
    from featurewarehouse.validation.gate import make_gate

    return sync_online(config, gate=make_gate(config), registry=registry)


def sample_request(config: ProjectConfig, registry, n: int = 2) -> tuple[list[str], dict[str, list]]:
    """A small online request: two features of each single-key online view, for the
    entities that transacted last (so that short-TTL features are still fresh)."""
    from featurewarehouse.offline.warehouse import connect

    views = [v for v in registry.online_views if len(v.key_names) == 1]
    views.sort(key=lambda v: v.ttl_seconds or float("inf"))  # the shortest TTL picks the keys
    features = [f.ref for v in views[:2] for f in v.features[:2]]
    entities: dict[str, list] = {}
    with connect(config) as wh:
        for v in views[:2]:
            key = v.key_names[0]
            if key in entities:
                continue
            latest = wh.fetch_arrow(
                f"select {key}, max({v.timestamp}) as ts from {v.relation} where {key} is not null "
                f"group by {key} order by ts desc, {key} limit {n}"
            )
            entities[key] = latest.column(0).to_pylist()
    width = min((len(v) for v in entities.values()), default=0)
    return features, {k: v[:width] for k, v in entities.items()}


def read_online(config: ProjectConfig, features: list[str], entities: dict[str, list]):
    """Step 8: read back what was synced, as a model server would."""
    from featurewarehouse.serving.client import OnlineClient

    client = OnlineClient.from_config(config)
    try:
        return client.get_online_features(features=features, entity_rows=entities)
    finally:
        client.close()


def try_it_lines(
    features: list[str] | None = None,
    entities: dict[str, list] | None = None,
    *,
    setup: list[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 6566,
) -> list[str]:
    """What to try next, as lines for ``fwctl demo`` to print; ``setup`` are the shell lines
    (activate, cd) that make the plain commands after them work as printed.

    >>> try_it_lines(["customer_spend_features:txn_count_7d"], {"customer_id": [1]})[3]
    '  fwctl serve --log &                 # Feast-format feature server on http://127.0.0.1:6566 (docs: /docs)'
    """
    import json
    import shlex

    body = json.dumps({
        "features": features or ["customer_spend_features:txn_count_7d", "merchant_risk_features:chargeback_rate_90d"],
        "entities": entities or {"customer_id": [1, 2], "merchant_id": [1, 2]},
    })
    base = f"http://{host}:{port}"
    return [
        "Next, in your shell:",
        *(f"  {line}" for line in setup or ()),
        "  fwctl features list                 # the registry: feature views, features, owners",
        f"  fwctl serve --log &                 # Feast-format feature server on {base} (docs: /docs)",
        f"  curl -s --retry 20 --retry-connrefused --retry-delay 1 {base}/get-online-features -d {shlex.quote(body)}",
        "  kill %1; wait                       # stop the server: it writes the log of what it served",
        "  fwctl skew                          # served values vs their point-in-time values",
        "  dbt build -s feature_log+           # logged vectors -> feature_log -> served_training_set",
    ]
