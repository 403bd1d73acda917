"""``fwctl features list|show|search|services``: discover what the registry holds."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from featurewarehouse.cli import options

KIND_CHOICES = ("feature", "feature_view", "label", "feature_log", "training_set")


def _fmt_ttl(seconds: int | None) -> str:
    if not seconds:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def list_rows(registry, *, kind: str, tag: str | None, owner: str | None, entity: str | None) -> list[dict[str, Any]]:
    """Rows for ``features list``: one per feature, or one per model of ``kind``."""
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.refs import did_you_mean

    if kind not in KIND_CHOICES:
        raise ConfigError(f"unknown kind {kind!r}." + did_you_mean(kind, KIND_CHOICES),
                          hint=f"use one of: {', '.join(KIND_CHOICES)}")
    if entity is not None:
        registry.entity(entity)  # unknown entity: an error with "did you mean", not an empty list

    def keep(tags, own, ents) -> bool:
        return ((tag is None or tag in tags) and (owner is None or owner == own)
                and (entity is None or entity in ents))

    rows: list[dict[str, Any]] = []
    if kind == "feature":
        for v in registry.feature_views:
            for f in v.features:
                if keep(set(f.tags) | set(v.tags), v.owner, v.entities):
                    rows.append({"ref": f.ref, "dtype": f.dtype, "entities": list(v.entities), "online": v.online,
                                 "ttl": _fmt_ttl(v.ttl_seconds), "owner": v.owner, "tags": sorted(set(f.tags) | set(v.tags)),
                                 "description": f.description})
    elif kind == "feature_view":
        for v in registry.feature_views:
            if keep(v.tags, v.owner, v.entities):
                rows.append({"name": v.name, "kind": "feature_view", "entities": list(v.entities),
                             "features": len(v.features), "online": v.online, "ttl": _fmt_ttl(v.ttl_seconds),
                             "owner": v.owner, "tags": list(v.tags), "description": v.description})
    else:
        for m in registry.models_of_kind(kind):
            if keep(m.tags, m.owner, m.entities):
                rows.append({"name": m.name, "kind": m.kind, "entities": list(m.entities),
                             "features": len(m.features), "owner": m.owner, "tags": list(m.tags),
                             "description": m.description})
    return rows


def show_data(registry, target: str) -> dict[str, Any]:
    """Everything ``features show`` prints, as a dict."""
    from dataclasses import asdict

    from featurewarehouse.registry.lineage import column_lineage

    view_name, _, feature_name = target.partition(":")
    view = registry.view(view_name)
    if feature_name and feature_name != "*":
        f = view.feature(feature_name)
        tree = column_lineage(registry, f.ref)
        return {
            "ref": f.ref, "kind": "feature", **{k: v for k, v in asdict(f).items() if k not in ("view",)},
            "view": view.name, "entities": list(view.entities), "join_keys": [asdict(k) for k in view.join_keys],
            "timestamp": view.timestamp, "ttl": _fmt_ttl(view.ttl_seconds), "online": view.online,
            "owner": view.owner, "fingerprint": view.fingerprint,
            "source_columns": [leaf.name for leaf in tree.leaves()],
            "lineage": tree.to_dict(),
            "used_by": list(registry.used_by(view.name, f.name)),
        }
    data = asdict(view)
    data["kind"] = "feature_view"
    data["ttl"] = _fmt_ttl(view.ttl_seconds)
    data["used_by"] = list(registry.used_by(view.name))
    lineage = registry.column_lineage.get(view.name, {})
    for feat in data["features"]:
        feat["derived_from"] = lineage.get(feat["name"], [])
    return data


def services_data(registry, name: str | None) -> list[dict[str, Any]]:
    """Rows for ``features services``: every feature service, or the one named, with its expanded features."""
    from dataclasses import asdict

    chosen = [registry.service(name)] if name else list(registry.feature_services)
    return [{**asdict(s), "expanded": [f.ref for f in registry.resolve(s.name)]} for s in chosen]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="List, show and search features in the registry.", no_args_is_help=True)
    app.add_typer(group, name="features")

    @group.command("list")
    def list_(
        kind: str = typer.Option("feature", "--kind", "-k",
                                 help=f"What to list: {', '.join(KIND_CHOICES)}."),
        tag: Optional[str] = typer.Option(None, "--tag", help="Only with this tag."),
        owner: Optional[str] = typer.Option(None, "--owner", help="Only owned by this owner."),
        entity: Optional[str] = typer.Option(None, "--entity", help="Only keyed by this entity."),
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """List features (default) or models of one kind, filtered by tag, owner, entity."""
        from featurewarehouse.cli.output import info, print_json, print_table
        from featurewarehouse.registry import load_registry

        registry = load_registry(options.resolve(project_dir))
        rows = list_rows(registry, kind=kind, tag=tag, owner=owner, entity=entity)
        if json_:
            print_json(rows)
            return
        if not rows:
            info("nothing matches")
            return
        columns = list(rows[0])
        print_table(columns, ([_cell(k, v) for k, v in r.items()] for r in rows))

    @group.command("show")
    def show(
        target: str = typer.Argument(..., help="A feature view, or view:feature."),
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """Metadata, lineage, SQL fingerprint and users of a feature view or one feature."""
        from featurewarehouse.cli.output import console, print_json, print_table
        from featurewarehouse.registry import load_registry

        registry = load_registry(options.resolve(project_dir))
        data = show_data(registry, target)
        if json_:
            print_json(data)
            return
        skip = {"features", "lineage", "join_keys", "ttl_seconds", "checks", "source_columns", "upstream",
                "downstream", "used_by"}
        print_table(("field", "value"), (
            (k, ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
            for k, v in data.items() if k not in skip and v not in (None, "", [], {})
        ), title=data.get("ref") or data["name"])
        if data["kind"] == "feature_view":
            print_table(("feature", "dtype", "checks", "derived from", "description"), (
                (f["name"], f["dtype"], _fmt_checks(f["checks"]), ", ".join(f["derived_from"]), f["description"])
                for f in data["features"]))
            for label in ("upstream", "downstream", "used_by"):
                if data[label]:
                    console.print(f"{label.replace('_', ' ')}: {', '.join(data[label])}", highlight=False, markup=False)
        else:
            if data["checks"]:
                console.print(f"checks: {_fmt_checks(data['checks'])}", highlight=False, markup=False)
            console.print(f"source columns: {', '.join(data['source_columns']) or '(untraced)'}",
                          highlight=False, markup=False)
            console.print(f"used by: {', '.join(data['used_by']) or '(no training set)'}",
                          highlight=False, markup=False)

    @group.command("search")
    def search_(
        query: str = typer.Argument(..., help="Keywords: names, descriptions, tags, owners, column names."),
        limit: int = typer.Option(20, "--limit", "-n", help="At most this many results."),
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """Ranked keyword search over features and feature views."""
        from featurewarehouse.cli.output import info, print_json, print_table
        from featurewarehouse.registry import load_registry
        from featurewarehouse.registry.search import search

        hits = search(load_registry(options.resolve(project_dir)), query, limit=limit)
        if json_:
            print_json([h.to_dict() for h in hits])
            return
        if not hits:
            info(f"no feature or view matches {query!r}")
            return
        print_table(("ref", "kind", "score", "matched", "description"),
                    ((h.ref, h.kind, f"{h.score:.1f}", ", ".join(h.matched), h.description) for h in hits))


    @group.command("services")
    def services_(
        name: Optional[str] = typer.Argument(None, help="One feature service to show (all when omitted)."),
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """Feature services (vars.fw.feature_services): owner, features and the training sets using them."""
        from featurewarehouse.cli.output import console, info, print_json, print_table
        from featurewarehouse.registry import load_registry

        rows = services_data(load_registry(options.resolve(project_dir)), name)
        if json_:
            print_json(rows)
            return
        if not rows:
            info("no feature services: declare them in dbt_project.yml under vars.fw.feature_services")
            return
        if name is None:
            print_table(("name", "owner", "features", "used by", "description"), (
                (r["name"], r["owner"], len(r["expanded"]), ", ".join(r["used_by"]), _cell("description", r["description"]))
                for r in rows))
            return
        [r] = rows
        print_table(("field", "value"), (
            ("owner", r["owner"]), ("description", r["description"]), ("features", ", ".join(r["features"])),
            ("logging", _fmt_checks(r["logging"])), ("used by", ", ".join(r["used_by"]) or "(no training set)"),
        ), title=r["name"])
        for ref in r["expanded"]:
            console.print(ref, highlight=False, markup=False)


def _cell(key: str, value: Any) -> Any:
    """Table cells: lists joined, descriptions cut to one short line (all of it is in --json)."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if key == "description" and isinstance(value, str) and len(value) > 60:
        return value[:59].rstrip() + "…"
    return value


def _fmt_checks(checks: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in checks.items())
