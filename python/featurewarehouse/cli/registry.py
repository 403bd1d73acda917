"""``fwctl registry build``: dbt metadata -> target/fw_registry.json."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from featurewarehouse.cli import options


def changes_lines(changes: dict[str, Any]) -> list[str]:
    """The change list as short lines (``+ view x``, ``~ feature v:f (dtype)``)."""
    lines: list[str] = []
    for kind, key in (("view", "views"), ("feature", "features"), ("model", "models")):
        part = changes.get(key) or {}
        lines += [f"+ {kind} {n}" for n in part.get("added", [])]
        lines += [f"- {kind} {n}" for n in part.get("removed", [])]
        for item in part.get("changed", []):
            if isinstance(item, dict):
                name = item.get("name") or item.get("ref")
                lines.append(f"~ {kind} {name} ({', '.join(item.get('fields', []))})")
            else:
                lines.append(f"~ {kind} {item}")
    return lines


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Build and inspect the feature registry (target/fw_registry.json).",
                        no_args_is_help=True)
    app.add_typer(group, name="registry")

    @group.command("build")
    def build(
        no_parse: bool = typer.Option(False, "--no-parse", help="Do not run dbt; read the existing manifest."),
        compile_: bool = typer.Option(
            False, "--compile", help="Run `dbt compile` instead of `dbt parse` (needed when models use macros)."),
        manifest: Optional[Path] = typer.Option(
            None, "--manifest", help="Read this manifest.json instead of running dbt (implies --no-parse)."),
        catalog: Optional[Path] = typer.Option(
            None, "--catalog", help="catalog.json with warehouse column types (default: target/catalog.json if present)."),
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Run dbt parse once, validate the feature metadata, and write the registry atomically.

        Every problem is reported at once (file, model, column); nothing is written then.
        """
        from featurewarehouse.cli.output import console, info, print_json, warn
        from featurewarehouse.registry.builder import build_registry

        config = options.resolve(project_dir, profiles_dir, target)
        command = None if (no_parse or manifest) else ("compile" if compile_ else "parse")
        result = build_registry(config, dbt_command=command, manifest_path=manifest, catalog_path=catalog)
        reg = result.registry
        if json_:
            print_json({
                "path": str(result.written), "version": reg.version, "schema_version": reg.schema_version,
                "feature_views": len(reg.feature_views),
                "features": sum(len(v.features) for v in reg.feature_views),
                "models": len(reg.models), "changes": reg.changes, "warnings": result.warnings,
                "timings": result.timings,
            })
            return
        for w in result.warnings:
            warn(w)
        n_feat = sum(len(v.features) for v in reg.feature_views)
        console.print(
            f"registry {reg.version}: {len(reg.feature_views)} feature views, {n_feat} features, "
            f"{len(reg.models)} other models -> {result.written}", highlight=False, markup=False)
        lines = changes_lines(reg.changes)
        prev = reg.changes.get("previous_version")
        if not lines:
            info(f"no changes since {prev}" if prev else "no feature views yet")
        else:
            info(f"changes since {prev or 'nothing (first build)'}:")
            for line in lines:
                console.print("  " + line, highlight=False, markup=False)
