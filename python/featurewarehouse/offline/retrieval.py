"""Historical retrieval: point-in-time-correct training data for a caller's spine.

The flow of one call:

1. resolve the requested features against the registry (which join keys the
   spine needs, and of which types);
2. render the PIT SQL from the dbt macro ``featurewarehouse.point_in_time_join``
   with ONE ``dbt compile --inline`` invocation (the rules live in the macro
   only; this module never writes PIT SQL of its own), told a bound of the
   spine's rows where it is known before staging, so the macro's statistics
   choose each view's formulation;
3. stage the spine in the warehouse with a row id assigned on upload
   (``offline/staging.py``; how it lands is the warehouse's business), check its
   columns, and normalize its event time to UTC in a view;
4. run ``select <spine columns>, <features> from (<pit sql>) order by row id``
   into Arrow batches, a Parquet file, or a warehouse table.

The spine's original timestamp column is returned untouched; the PIT join
uses a normalized copy (``__fw_event_ts``) that is dropped from the output.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError
from featurewarehouse.registry import load_registry
from featurewarehouse.offline.spine import (
    EVENT_TS,
    ROW_ID,
    ArrowSpine,
    KeyRequirement,
    SpineInput,
    SqlSpine,
    check_spine,
    classify,
    quote,
    size_bound,
    spine_size_bound,
)
from featurewarehouse.offline.staging import (
    SPINE_VIEW,
    _typed_nulls,
    normalize_spine,
    stage_spine,
)


# ---- results ---------------------------------------------------------------

@dataclass(frozen=True)
class HistoricalResult:
    """The outcome of :func:`get_historical_features`.

    With ``output=None`` it holds the rows as an Arrow table; with an output it
    only says where they went (nothing was pulled into Python).
    """

    sql: str
    num_rows: int
    columns: tuple[str, ...]
    output: str | None = None
    output_kind: str = "arrow"  # arrow | parquet | table
    seconds: float = 0.0
    _table: Any = field(default=None, repr=False, compare=False)
    # spine rows that could find no candidate row, by reason (see SkippedRows)
    skipped: "SkippedRows | None" = None

    def to_arrow(self) -> "pa.Table":  # noqa: F821
        """The rows as an Arrow table (read back from Parquet when written there)."""
        if self._table is not None:
            return self._table
        if self.output_kind == "parquet" and self.output:
            import pyarrow.parquet as pq

            return pq.read_table(self.output)
        raise ConfigError(
            f"the result was written to the warehouse table {self.output}; it is not in memory",
            hint=f"query it there (select * from {self.output}), or call without output= to get Arrow",
        )

    def to_pandas(self) -> "pandas.DataFrame":  # noqa: F821
        return self.to_arrow().to_pandas()

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.num_rows,
            "columns": list(self.columns),
            "output": self.output,
            "output_kind": self.output_kind,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped.as_dict() if self.skipped else {},
        }


@dataclass(frozen=True)
class SkippedRows:
    """Spine rows the PIT join cannot match, by reason; they are still returned, with NULL features.

    A NULL event time finds no candidate in any view; a NULL join key finds
    none in the views keyed on it (the other views still answer the row).
    """

    rows: int  # spine rows with at least one reason (a row can have several)
    null_timestamp: int
    null_keys: tuple[tuple[str, int, tuple[str, ...]], ...]  # (key, rows, views keyed on it)

    def as_dict(self) -> dict[str, Any]:
        """Only the reasons that occurred.

        >>> SkippedRows(3, 1, (("customer_id", 2, ("a",)), ("m", 0, ("b",)))).as_dict()
        {'rows': 3, 'null_timestamp': 1, 'null_key': {'customer_id': {'rows': 2, 'views': ['a']}}}
        """
        out: dict[str, Any] = {"rows": self.rows}
        if self.null_timestamp:
            out["null_timestamp"] = self.null_timestamp
        keys = {k: {"rows": n, "views": list(v)} for k, n, v in self.null_keys if n}
        if keys:
            out["null_key"] = keys
        return out

    def describe(self) -> str:
        """One line for the CLI, empty when nothing was skipped.

        >>> SkippedRows(3, 1, (("customer_id", 2, ("a", "b")),)).describe()
        '3 spine rows found no candidate: 1 with a NULL event time; 2 with a NULL customer_id (views a, b)'
        """
        if not self.rows:
            return ""
        parts = [f"{self.null_timestamp:,} with a NULL event time"] if self.null_timestamp else []
        parts += [f"{n:,} with a NULL {k} (views {', '.join(v)})" for k, n, v in self.null_keys if n]
        rows = "spine row" if self.rows == 1 else "spine rows"
        return f"{self.rows:,} {rows} found no candidate: " + "; ".join(parts)


def count_skipped(wh: Any, keys: Sequence[KeyRequirement]) -> SkippedRows:
    """Count the staged spine's rows with a NULL event time or join key: one aggregate over it.

    A separate statement, not a column of the PIT query: that query's result goes
    straight to a file or table (COPY / CREATE TABLE AS), which cannot return a
    second result. The aggregate reads only the key and time columns of the spine.
    """
    ts = quote(EVENT_TS)
    exprs = [f"count(*) filter (where {ts} is null)"]
    exprs += [f"count(*) filter (where {quote(k.name)} is null)" for k in keys]
    any_null = " or ".join([f"{ts} is null", *(f"{quote(k.name)} is null" for k in keys)])
    exprs.append(f"count(*) filter (where {any_null})")
    sql = "select " + ", ".join(f"{e} as c{i}" for i, e in enumerate(exprs)) + f" from {quote(SPINE_VIEW)}"
    row = wh.fetch_arrow(sql).to_pylist()[0]
    counts = [int(row[f"c{i}"] or 0) for i in range(len(exprs))]
    null_keys = tuple((k.name, n, k.views) for k, n in zip(keys, counts[1:-1]))
    return SkippedRows(counts[-1], counts[0], null_keys)


# ---- step 1: what the features need ------------------------------------------

def key_requirements(registry: Any, features: Sequence[str]) -> list[KeyRequirement]:
    """The join keys the requested features need, in first-mention order."""
    needed: dict[str, KeyRequirement] = {}
    dtypes: dict[str, tuple[str, str]] = {}
    for ent in registry.entities:
        for k in ent.join_keys:
            dtypes.setdefault(k.name, (k.dtype, ent.name))
    for feature in registry.resolve(features):
        view = registry.view(feature.view)
        for key in view.join_keys:
            dtype, entity = dtypes.get(key.name, (key.dtype, ",".join(view.entities)))
            prev = needed.get(key.name)
            views = (prev.views if prev else ()) + ((view.name,) if not prev or view.name not in prev.views else ())
            needed[key.name] = KeyRequirement(key.name, key.dtype or dtype, entity, views)
    return list(needed.values())


def feature_column_names(registry: Any, features: Sequence[str], full_feature_names: bool) -> list[str]:
    """The feature columns the macro outputs, in its order: views by first mention, then features."""
    resolved = registry.resolve(features)
    views = list(dict.fromkeys(f.view for f in resolved))
    return [
        f"{f.view}__{f.name}" if full_feature_names else f.name
        for v in views for f in resolved if f.view == v
    ]


# ---- step 2: render the macro ------------------------------------------------

# Views per PIT query. The macro's query keeps every view's intermediate rows
# alive at once (measured: ~100 MiB per view of 170k rows x 20 features, 7.9 GiB
# for 50 views in one query), so wide requests run as several queries over the
# same staged spine, each into a temp table keyed by the row id, joined at the end.
VIEWS_PER_QUERY = 4
_NEXT_QUERY = "/* __fw_next_query__ */"


def query_groups(features: Sequence[str], views_per_query: int | None = None) -> list[list[str]]:
    """Feature refs grouped by view (first-mention order), at most ``views_per_query`` views a group.

    >>> query_groups(["a:x", "b:y", "a:z", "c:*"], views_per_query=2)
    [['a:x', 'a:z', 'b:y'], ['c:*']]
    """
    from featurewarehouse.refs import FeatureRef

    by_view: dict[str, list[str]] = {}
    for ref in features:
        by_view.setdefault(FeatureRef.parse(ref).view, []).append(ref)
    views = list(by_view)
    step = max(1, views_per_query or VIEWS_PER_QUERY)
    return [[r for v in views[i:i + step] for r in by_view[v]] for i in range(0, len(views), step)]


def pit_jinja(features: Sequence[str], *, full_feature_names: bool = False) -> str:
    """The one-line Jinja call dbt compiles for a Python spine.

    >>> pit_jinja(["v:a"])
    '{{ featurewarehouse.point_in_time_join(spine=\\'"__fw_spine"\\', spine_timestamp=\\'__fw_event_ts\\', features=["v:a"], full_feature_names=false) }}'
    """
    spine = quote(SPINE_VIEW)
    return (
        "{{ featurewarehouse.point_in_time_join("
        f"spine='{spine}', spine_timestamp='{EVENT_TS}', "
        f"features={json.dumps(list(features))}, "
        f"full_feature_names={'true' if full_feature_names else 'false'}) }}}}"
    )


def render_pit_sql(
    config: ProjectConfig,
    features: Sequence[str],
    *,
    full_feature_names: bool = False,
    views_per_query: int | None = None,
    spine_rows: int | None = None,
) -> list[str]:
    """Compile the PIT macro for the staged spine: one SQL per view group, one dbt invocation in all.

    ``spine_rows`` (the spine's size class, :func:`spine_size_class`)
    lets the macro choose each view's formulation from statistics (``vars.fw_pit_spine_rows``);
    without it the engine's choice for an unknown spine stands."""
    from featurewarehouse.dbt import run_dbt

    groups = query_groups(features, views_per_query)
    jinja = f"\n{_NEXT_QUERY}\n".join(pit_jinja(g, full_feature_names=full_feature_names) for g in groups)
    args = ["compile", "--inline", jinja]
    if spine_rows is not None:
        args += ["--vars", json.dumps({"fw_pit_spine_rows": int(spine_rows)})]
    # dbt prints an inline compile's SQL on stdout; keep stdout for our own output.
    with contextlib.redirect_stdout(io.StringIO()):
        result = run_dbt(config, args, quiet=True)
    try:
        nodes = [r.node for r in result.result.results]
        sql = next(n.compiled_code for n in nodes if getattr(n, "name", "") == "inline_query")
    except (AttributeError, StopIteration, TypeError) as exc:
        raise ConfigError(
            "dbt compiled the point-in-time macro but returned no SQL",
            where=str(config.project_dir),
            hint=f"run `dbt compile --inline '{pit_jinja(groups[0])}'` by hand to see why",
        ) from exc
    parts = [p.strip().rstrip(";").strip() for p in (sql or "").split(_NEXT_QUERY)]
    if len(parts) != len(groups) or not all(parts):
        raise ConfigError("the point-in-time macro rendered empty SQL", hint="check macros/point_in_time_join.sql")
    return parts


def final_sql(pit_sql: str, spine_columns: Sequence[str], feature_columns: Sequence[str], row_id_column: str | None) -> str:
    """The projection that restores the caller's columns and order."""
    cols = [quote(c) for c in spine_columns] + [quote(c) for c in feature_columns]
    if row_id_column:
        cols.append(f"{quote(ROW_ID)} as {quote(row_id_column)}")
    return f"select {', '.join(cols)}\nfrom (\n{pit_sql}\n) as pit\norder by {quote(ROW_ID)}"


def run_parts(wh: Any, parts: Sequence[str], part_columns: Sequence[Sequence[str]]) -> list[str]:
    """Run each group's PIT query into a temp table (row id + its features); return their names."""
    names = []
    for i, (sql, cols) in enumerate(zip(parts, part_columns)):
        name = f"__fw_part_{i}"
        select = ", ".join([quote(ROW_ID), *(quote(c) for c in cols)])
        wh.execute(f"drop table if exists {quote(name)}")
        wh.execute(f"create temp table {quote(name)} as select {select} from (\n{sql}\n) as pit")
        names.append(name)
    return names


def joined_sql(
    parts: Sequence[str],
    part_columns: Sequence[Sequence[str]],
    spine_columns: Sequence[str],
    row_id_column: str | None,
) -> str:
    """The spine joined to every part on the row id, in the spine's order."""
    cols = [f"s.{quote(c)}" for c in spine_columns]
    joins = []
    for i, (name, group) in enumerate(zip(parts, part_columns)):
        cols += [f"p{i}.{quote(c)}" for c in group]
        joins.append(f"left join {quote(name)} as p{i} on p{i}.{quote(ROW_ID)} = s.{quote(ROW_ID)}")
    if row_id_column:
        cols.append(f"s.{quote(ROW_ID)} as {quote(row_id_column)}")
    return (f"select {', '.join(cols)}\nfrom {quote(SPINE_VIEW)} as s\n" + "\n".join(joins)
            + f"\norder by s.{quote(ROW_ID)}")


# ---- step 3 (offline/staging.py) stages the spine; step 4: outputs ---------------------------------------------------------

def is_file_output(output: str | os.PathLike[str]) -> bool:
    """A Parquet path (``*.parquet``, a Path, or anything with a slash) versus a table name.

    >>> is_file_output("out/train.parquet"), is_file_output("analytics.train_set")
    (True, False)
    """
    if isinstance(output, Path):
        return True
    text = str(output)
    return text.lower().endswith((".parquet", ".pq")) or "/" in text or os.sep in text


def _table_name(output: str) -> str:
    parts = [p.strip() for p in output.split(".")]
    if not all(parts) or len(parts) > 3:
        raise ConfigError(f"malformed table name {output!r}", hint="write table or schema.table")
    return ".".join(p if p.startswith('"') else quote(p) for p in parts)


def write_parquet(wh: Any, sql: str, path: str) -> None:
    """Write the result to ``path`` atomically (a temp file renamed at the end)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        wh.write_parquet(sql, str(tmp))
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(wh: Any, sql: str, table: str, n_columns: int = 0) -> None:
    """Create or replace ``table`` from the result, all or nothing."""
    wh.create_table_as(_table_name(table), sql, n_columns=n_columns)


# ---- the whole call ------------------------------------------------------------

@dataclass(frozen=True)
class _Prepared:
    wh: Any
    sql: str
    columns: tuple[str, ...]
    skipped: SkippedRows


# the macro's rendering, one SQL per view group: given, deferred (a function of the spine's size
# class: FeatureStore's cache), or None (render here)
PitSql = Sequence[str] | Callable[[int | None], Sequence[str]] | None


@contextlib.contextmanager
def _prepare(
    config: ProjectConfig,
    entity_df: Any,
    features: Sequence[str],
    *,
    timestamp_column: str | None,
    full_feature_names: bool,
    row_id_column: str | None,
    registry: Any,
    pit_sql: PitSql,
) -> Iterator[_Prepared]:
    """Check, render, stage: yield an open warehouse and the final SQL."""
    from featurewarehouse.offline.warehouse import connect

    features = list(features)
    if not features:
        raise ConfigError("no features requested", hint="pass features=['feature_view:feature', ...]")
    spine = classify(entity_df)
    registry = registry if registry is not None else load_registry(config)
    keys = key_requirements(registry, features)
    groups = query_groups(features)
    group_cols = [feature_column_names(registry, g, full_feature_names) for g in groups]
    feature_cols = [c for cols in group_cols for c in cols]
    _check_unique(registry, features, full_feature_names)
    checks = dict(timestamp_column=timestamp_column, keys=keys, feature_columns=feature_cols,
                  row_id_column=row_id_column)
    # Checks that need no warehouse come before the (slower) dbt call.
    if isinstance(spine, ArrowSpine):
        ts_col = check_spine(spine.table.schema, **checks)
        spine = ArrowSpine(_typed_nulls(spine.table, keys, ts_col))
    spine_rows = spine_size_class(config, spine) if pit_sql is None or callable(pit_sql) else None
    if callable(pit_sql):
        pit_sql = pit_sql(spine_rows)
    parts = list(pit_sql) if pit_sql is not None else render_pit_sql(
        config, features, full_feature_names=full_feature_names, spine_rows=spine_rows)
    if len(parts) != len(groups):
        raise ConfigError(f"expected {len(groups)} rendered PIT queries, got {len(parts)}")

    with contextlib.closing(connect(config)) as wh:
        staged = stage_spine(wh, spine)
        ts_col = check_spine(staged.schema, **checks)
        normalize_spine(wh, staged, ts_col)
        skipped = count_skipped(wh, keys)
        spine_cols = [f.name for f in staged.schema]
        # Column names come from the registry: probing the PIT query for its
        # schema could make the engine run its materialized CTEs.
        if len(parts) == 1:
            sql = final_sql(parts[0], spine_cols, feature_cols, row_id_column)
        else:
            sql = joined_sql(run_parts(wh, parts, group_cols), group_cols, spine_cols, row_id_column)
        yield _Prepared(wh, sql, tuple(spine_cols + feature_cols + ([row_id_column] if row_id_column else [])),
                        skipped)


def spine_size_class(config: ProjectConfig, spine: SpineInput) -> int | None:
    """The spine's size class for the render (:func:`~featurewarehouse.offline.spine.size_bound`):
    read off a frame or Parquet metadata, or, for a spine given as SQL, counted in the warehouse
    where the macro chooses formulations by it (one count of the spine; None if the count fails:
    staging the spine reports the error)."""
    from featurewarehouse.offline.warehouse import connect, engine_class, read_target

    known = spine_size_bound(spine)
    if known is not None or not isinstance(spine, SqlSpine):
        return known
    if not engine_class(read_target(config)).PIT_CHOOSES_BY_SPINE_SIZE:
        return None
    try:
        with contextlib.closing(connect(config, read_only=True)) as wh:
            rows = wh.fetch_arrow(f"select count(*) as n from {spine.source} as fw_spine_rows").column(0)[0].as_py()
    except Exception:  # noqa: BLE001 (staging the same spine raises it with what to fix)
        return None
    return size_bound(int(rows))


def _check_unique(registry: Any, features: Sequence[str], full_feature_names: bool) -> None:
    """Two views giving the same output name (the macro checks this only within one query)."""
    seen: dict[str, str] = {}
    for f in registry.resolve(features):
        col = f"{f.view}__{f.name}" if full_feature_names else f.name
        if col in seen and seen[col] != f.view:
            raise ConfigError(
                f"feature name {col!r} clashes: both {seen[col]!r} and {f.view!r} provide it",
                hint="pass full_feature_names=True to name the columns <view>__<feature>, or select only one",
            )
        seen[col] = f.view


def get_historical_features(
    config: ProjectConfig,
    entity_df: Any,
    features: Sequence[str],
    *,
    timestamp_column: str | None = None,
    output: str | os.PathLike[str] | None = None,
    full_feature_names: bool = False,
    row_id_column: str | None = None,
    registry: Any = None,
    pit_sql: PitSql = None,
) -> HistoricalResult:
    """Point-in-time join of ``features`` onto the spine ``entity_df``; see the module docstring.

    ``output`` None returns the rows as Arrow; a ``*.parquet`` path (or any
    path) writes a Parquet file; anything else names a warehouse table to
    create or replace. ``pit_sql`` is the macro's rendering for these features
    (from :func:`render_pit_sql`, one SQL per view group), or a function of the
    spine's size bound giving it, called only once the checks that need no
    warehouse have passed; when None it is rendered with one dbt call.
    """
    started = time.perf_counter()
    with _prepare(config, entity_df, features, timestamp_column=timestamp_column,
                  full_feature_names=full_feature_names, row_id_column=row_id_column,
                  registry=registry, pit_sql=pit_sql) as job:
        wh, sql, columns = job.wh, job.sql, job.columns
        if output is None:
            table = wh.fetch_arrow(sql)  # an empty result keeps its schema
            return HistoricalResult(sql, table.num_rows, columns, None, "arrow",
                                    time.perf_counter() - started, table, job.skipped)
        if is_file_output(output):
            import pyarrow.parquet as pq

            path = str(Path(output).expanduser().resolve())
            write_parquet(wh, sql, path)
            rows = pq.read_metadata(path).num_rows
            return HistoricalResult(sql, rows, columns, path, "parquet", time.perf_counter() - started,
                                    skipped=job.skipped)
        write_table(wh, sql, str(output), len(columns))
        rows = int(wh.fetch_arrow(f"select count(*) as n from {_table_name(str(output))}").column(0)[0].as_py())
        return HistoricalResult(sql, rows, columns, str(output), "table", time.perf_counter() - started,
                                skipped=job.skipped)


def iter_historical_batches(
    config: ProjectConfig,
    entity_df: Any,
    features: Sequence[str],
    *,
    timestamp_column: str | None = None,
    full_feature_names: bool = False,
    row_id_column: str | None = None,
    registry: Any = None,
    pit_sql: PitSql = None,
    batch_rows: int = 65_536,
) -> Iterator[Any]:
    """Like :func:`get_historical_features`, yielding Arrow record batches as the warehouse produces them."""
    with _prepare(config, entity_df, features, timestamp_column=timestamp_column,
                  full_feature_names=full_feature_names, row_id_column=row_id_column,
                  registry=registry, pit_sql=pit_sql) as job:
        yield from job.wh.stream(job.sql, batch_rows)
