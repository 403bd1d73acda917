"""The demo flow behind ``fwctl demo``: a plain sequence of steps.

1. data     generate the default card-payments dataset if it is missing;
2. load     on a server warehouse (PostgreSQL), load the raw Parquet into <schema>_raw;
3. build    ONE ``dbt build`` of the whole project (models and their tests);
4. summary  the models built and their row counts.

Later steps (validation, registry, online sync, serving) slot in after "build".
Library code: no printing; progress goes through the callbacks.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

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
from featurewarehouse.demo.load import LoadResult, load_postgres, raw_data_dir

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
    """The main demo job: data, (load), build, summary."""
    from featurewarehouse.offline.warehouse import read_target

    step = on_step or (lambda _: None)
    spec = spec or demo_spec()
    timings: dict[str, float] = {}

    step("data")
    t0 = time.perf_counter()
    data_dir, generated = ensure_data(config, spec, on_progress=on_progress)
    timings["data"] = time.perf_counter() - t0

    loaded = None
    if read_target(config).type == "postgres":
        step("load")
        t0 = time.perf_counter()
        loaded = load_postgres(config, data_dir, on_progress=on_progress)
        timings["load"] = time.perf_counter() - t0

    step("build")
    t0 = time.perf_counter()
    result = build(config)
    timings["build"] = time.perf_counter() - t0

    step("summary")
    models, tests = summarize(config, result)
    return DemoRun(data_dir, config.target, generated, loaded, timings["build"], models, tests, timings)
