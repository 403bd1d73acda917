"""A fourth engine is one module plus one ``ENGINES`` entry: no caller outside the engine
modules may branch on an engine's name (``if dialect == "duckdb"``, ``target.type in (...)``).
Where engines differ, the difference is a method or a capability flag of ``Warehouse``."""
from __future__ import annotations

import ast
from pathlib import Path

from featurewarehouse.offline.warehouse import ENGINES

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "featurewarehouse"
# the interface itself and the modules ENGINES names: where an engine's own behaviour lives
ENGINE_MODULES = {PACKAGE / "offline" / "warehouse.py"} | {
    PACKAGE.parent.joinpath(*name.split(":")[0].split(".")).with_suffix(".py") for name in ENGINES.values()
}
NAMES = set(ENGINES) | {"postgresql", "snowflake", "bigquery", "trino", "databricks", "redshift"}


def _engine_names(node: ast.AST) -> list[str]:
    """Engine names a comparison operand spells out: a string, or a tuple/list/set of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in NAMES else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [n for elt in node.elts for n in _engine_names(elt)]
    return []


def branches_on_engine_names(source: str) -> list[tuple[int, str]]:
    """(line, engine name) of every ``==``/``!=``/``in``/``not in`` comparison with an engine's name,
    and every ``match`` case on one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops
        ):
            for operand in (node.left, *node.comparators):
                found += [(node.lineno, n) for n in _engine_names(operand)]
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, n) for n in _engine_names(node.value)]
    return found


def test_the_check_sees_the_branches_it_forbids():
    assert branches_on_engine_names('if wh.dialect == "duckdb":\n    pass') == [(1, "duckdb")]
    assert branches_on_engine_names('x = t.type in ("postgres", "spark")') == [(1, "postgres"), (1, "spark")]
    assert branches_on_engine_names('if "spark" != d:\n    pass') == [(1, "spark")]
    assert branches_on_engine_names('match d:\n    case "duckdb":\n        pass') == [(2, "duckdb")]
    assert branches_on_engine_names('x = {"duckdb": 1}\ny = wh.dialect') == []


def test_no_caller_outside_the_engine_modules_branches_on_an_engine_name():
    assert all(p.is_file() for p in ENGINE_MODULES), ENGINE_MODULES
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: compares with {name!r}"
        for path in sorted(PACKAGE.rglob("*.py")) if path not in ENGINE_MODULES
        for line, name in branches_on_engine_names(path.read_text())
    ]
    assert not offenders, (
        "callers branch on an engine's name; make the difference a Warehouse method or capability flag "
        "(offline/warehouse.py) instead:\n" + "\n".join(offenders)
    )


def test_an_engine_without_a_sql_spine_says_so_and_how_to_get_around_it():
    import pytest

    from featurewarehouse.errors import ConfigError
    from featurewarehouse.offline.warehouse import Warehouse

    class Minimal(Warehouse):
        dialect = "trino"

    with pytest.raises(ConfigError, match="cannot number a SQL spine's rows on trino") as err:
        Minimal().stage_query("s", "(select 1)", "rid")
    assert "DataFrame" in err.value.hint
