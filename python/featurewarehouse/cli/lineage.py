"""``fwctl lineage view:feature``: the source columns a feature is computed from."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    @app.command("lineage")
    def lineage(
        ref: str = typer.Argument(..., help="The feature, as view:feature."),
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """Column-level lineage of a feature: through CTEs, joins and upstream models to the sources."""
        from rich.tree import Tree

        from featurewarehouse.cli.output import console, print_json
        from featurewarehouse.registry import load_registry
        from featurewarehouse.registry.lineage import column_lineage

        root = column_lineage(load_registry(options.resolve(project_dir)), ref)
        if json_:
            print_json({**root.to_dict(), "source_columns": [leaf.name for leaf in root.leaves()]})
            return

        def label(node) -> str:
            return node.name if node.kind in ("feature", "model") else f"{node.name}  ({node.kind})"

        def add(branch: Tree, node) -> None:
            for parent in node.parents:
                add(branch.add(label(parent), highlight=False), parent)

        tree = Tree(label(root), highlight=False)
        add(tree, root)
        console.print(tree)
        if root.parents:
            text = ", ".join(n.name for n in root.leaves())
        elif root.kind == "feature":
            text = "(none: a constant or count(*), or SQL the build could only approximate)"
        else:
            text = "(untraced)"
        console.print(f"source columns: {text}", highlight=False, markup=False)
