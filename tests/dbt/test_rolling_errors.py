"""Wrong arguments of rolling_features fail with the macro, what is wrong and the fix.

Each case renders the macro through `dbt compile --inline` on the fixture project
(the errors are raised while parsing, which would stop a whole project's parse).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from pit_project import TESTS, invoke, make_project  # noqa: I001

CALL = ("{{{{ featurewarehouse.rolling_features(source=ref('events'), entity={entity}, timestamp='ts', "
        "aggregations={aggs}, windows={windows}) }}}}")
CASES = {
    "unknown agg": (dict(entity="'customer'", aggs="[{'agg': 'summ', 'column': 'amount'}]", windows="['1h']"),
                    ["has unknown agg 'summ'. Did you mean 'sum'?", "fix: use one of: count, sum, avg"]),
    "malformed window": (dict(entity="'customer'", aggs="[{'agg': 'count'}]", windows="['1 hour']"),
                         ["window '1 hour' has a malformed ttl '1 hour'", "fix: write a positive number and a unit"]),
    "missing column": (dict(entity="'customer'", aggs="[{'agg': 'sum'}]", windows="['1h']"),
                       ["sum needs a column", "fix: add 'column'"]),
    "name used twice": (dict(entity="'customer'", aggs="[{'agg': 'count'}, {'agg': 'count', 'filter': 'amount > 0'}]",
                             windows="['1h']"),
                        ["the column name 'count_1h' of aggregation #2", "is used twice",
                         "fix: give one of the aggregations another 'name'"]),
    "unknown entity": (dict(entity="'custmer'", aggs="[{'agg': 'count'}]", windows="['1h']"),
                       ["unknown entity 'custmer'. Did you mean 'customer'?", "vars.fw.entities (customer, merchant)"]),
    "expression without name": (dict(entity="'customer'", aggs="[{'agg': 'sum', 'column': 'amount * 2'}]",
                                     windows="['1h']"),
                                ["the column 'amount * 2' is an expression", "fix: add 'name'"]),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("rolling_errors"), TESTS / "dbt" / "rolling_project")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_argument_names_macro_problem_and_fix(project: Path, case: str) -> None:
    args, expected = CASES[case]
    result = invoke(project, ["compile", "--inline", CALL.format(**args)], "dev")
    text = " ".join([str(result.exception or "")] + result.logged)
    assert not result.success
    assert "featurewarehouse.rolling_features" in text, text
    for part in expected:
        assert part in text, f"{part!r} not in {text}"
