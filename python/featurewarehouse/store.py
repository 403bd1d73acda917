"""``FeatureStore``: the Python entry point for ML engineers.

>>> from featurewarehouse import FeatureStore            # doctest: +SKIP
>>> store = FeatureStore(".")                             # doctest: +SKIP
>>> train = store.get_historical_features(                # doctest: +SKIP
...     labels_df, features=["customer_spend_features:*"], timestamp_column="event_ts",
... ).to_pandas()
>>> store.get_online_features(                            # doctest: +SKIP
...     features=["customer_spend_features:txn_count_7d"], entity_rows=[{"customer_id": 42}],
... ).to_dict()
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from featurewarehouse.config import ProjectConfig, load_config
from featurewarehouse.offline import retrieval
from featurewarehouse.registry import load_registry


class FeatureStore:
    """A Feature Warehouse project, seen from Python.

    The registry and each feature list's rendered PIT SQL are loaded once per
    instance (at most one dbt invocation per call); create a new instance, or
    call :meth:`refresh`, after changing the project's models or YAML.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str] | None = None,
        *,
        target: str | None = None,
        profiles_dir: str | os.PathLike[str] | None = None,
        config: ProjectConfig | None = None,
    ):
        self.config = config or load_config(
            Path(project_dir) if project_dir is not None else None, profiles_dir=profiles_dir, target=target
        )
        self._registry: Any = None
        self._pit_sql: dict[tuple[tuple[str, ...], bool], list[str]] = {}
        self._online: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            self._registry = load_registry(self.config)
        return self._registry

    def refresh(self) -> None:
        """Forget the cached registry and rendered SQL (after a project change)."""
        self._registry = None
        self._pit_sql.clear()
        self.close()

    def close(self) -> None:
        """Close the online store connection, if one was opened."""
        if self._online is not None:
            self._online.close()
            self._online = None

    def get_online_features(
        self,
        features: Sequence[str] | str | None = None,
        entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] = (),
        *,
        feature_service: str | None = None,
        full_feature_names: bool = False,
    ) -> Any:
        """The latest values of ``features`` (or of ``feature_service``'s) for each entity row, from the
        project's online store (``FW_ONLINE_STORE`` or ``vars.fw.online_store``), as Feast's SDK returns
        them: ``.to_dict()``, ``.to_df()``; each value comes with a status and an event timestamp.

        As in Feast, ``features`` may instead name a feature service (a string, not a list)."""
        if self._online is None:
            from featurewarehouse.serving.client import OnlineClient

            self._online = OnlineClient.from_config(self.config)
        if isinstance(features, str) and feature_service is None:  # Feast's SDK takes a FeatureService in place of the list
            features, feature_service = None, features
        return self._online.get_online_features(None if features is None else list(features), entity_rows,
                                                full_feature_names=full_feature_names, feature_service=feature_service)

    def _rendered(self, features: Sequence[str], full_feature_names: bool, spine_rows: int | None = None) -> list[str]:
        """The PIT SQL, rendered once per feature list and spine size class (a power of two: the
        macro chooses each view's formulation from it)."""
        key = (tuple(features), bool(full_feature_names), spine_rows)
        if key not in self._pit_sql:
            # Validate the references first: a clear error beats a dbt compile failure.
            self.registry.resolve(features)
            self._pit_sql[key] = retrieval.render_pit_sql(
                self.config, features, full_feature_names=full_feature_names, spine_rows=spine_rows
            )
        return self._pit_sql[key]

    def _features(self, features: Sequence[str] | None, feature_service: str | None) -> list[str]:
        """The refs to join: ``features``, or the features of the feature service (never both)."""
        from featurewarehouse.errors import ConfigError

        if feature_service is not None:
            if features is not None:
                raise ConfigError(f"both features and feature_service={feature_service!r} are given",
                                  hint="pass one of them")
            return list(self.registry.service(feature_service).features)
        if features is None:
            raise ConfigError("no features requested",
                              hint="pass features=['view:feature', ...] or feature_service='<name>'")
        return list(features)

    def get_historical_features(
        self,
        entity_df: Any,
        features: Sequence[str] | None = None,
        *,
        feature_service: str | None = None,
        timestamp_column: str | None = None,
        output: str | os.PathLike[str] | None = None,
        full_feature_names: bool = False,
        row_id_column: str | None = None,
    ) -> retrieval.HistoricalResult:
        """Point-in-time-correct feature values for every row of ``entity_df``.

        ``entity_df``: a pandas DataFrame, a pyarrow Table, a Parquet path, a
        SELECT query or a table name in the warehouse. It must carry the join
        keys of the requested views' entities and an event-time column
        (``timestamp_column``; found automatically when there is exactly one
        timestamp/date column). Naive timestamps are UTC; a DATE is midnight.

        Returns every spine row once, in the spine's order, with its original
        columns followed by one column per feature (``view__feature`` with
        ``full_feature_names``). ``output`` writes a Parquet file (a path) or
        a warehouse table (a name) instead of returning the rows.
        ``row_id_column`` keeps the spine's 0-based row position under that name.
        ``feature_service`` names a feature service (``vars.fw.feature_services``)
        whose features to join instead of ``features``.
        """
        import dataclasses
        import time

        started = time.perf_counter()
        features = self._features(features, feature_service)
        pit_sql = (lambda rows: self._rendered(features, full_feature_names, rows)) if features else None
        result = retrieval.get_historical_features(
            self.config, entity_df, features, timestamp_column=timestamp_column, output=output,
            full_feature_names=full_feature_names, row_id_column=row_id_column,
            registry=self.registry, pit_sql=pit_sql,
        )
        return dataclasses.replace(result, seconds=time.perf_counter() - started)

    def iter_historical_features(
        self,
        entity_df: Any,
        features: Sequence[str] | None = None,
        *,
        feature_service: str | None = None,
        timestamp_column: str | None = None,
        full_feature_names: bool = False,
        row_id_column: str | None = None,
        batch_rows: int = 65_536,
    ) -> Iterator[Any]:
        """The same rows as :meth:`get_historical_features`, as a stream of Arrow record batches."""
        features = self._features(features, feature_service)
        return retrieval.iter_historical_batches(
            self.config, entity_df, features, timestamp_column=timestamp_column,
            full_feature_names=full_feature_names, row_id_column=row_id_column,
            registry=self.registry,
            pit_sql=(lambda rows: self._rendered(features, full_feature_names, rows)) if features else None,
            batch_rows=batch_rows,
        )
