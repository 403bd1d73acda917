"""Validation result records: what one expectation and one model's suite produced.

Plain frozen dataclasses, free of Great Expectations types, so the CLI, the
report and the serving gate can read them without importing GX.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, in the warehouse's terms."""

    type: str
    kwargs: dict[str, Any] = field(hash=False)
    success: bool
    generated: bool = False
    column: str | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    element_count: int | None = None
    sample_values: tuple[Any, ...] = ()
    observed_value: Any = field(default=None, hash=False)
    exception: str | None = None
    name: str | None = None  # the suite's meta.fw_label, when it gives one

    @property
    def label(self) -> str:
        """A short human name: ``expect_column_values_to_not_be_null(amount)``."""
        if self.name:
            return self.name
        if self.column:
            target = self.column
        elif "column_list" in self.kwargs:
            target = ", ".join(self.kwargs["column_list"])
        elif "column_A" in self.kwargs:
            target = f"{self.kwargs['column_A']}, {self.kwargs.get('column_B')}"
        else:
            target = ""
        return f"{self.type}({target})" if target else self.type

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sample_values"] = list(self.sample_values)
        data["label"] = self.label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExpectationOutcome":
        fields_ = {k: v for k, v in data.items() if k != "label"}
        fields_["sample_values"] = tuple(fields_.get("sample_values") or ())
        return cls(**fields_)


@dataclass(frozen=True)
class ModelValidation:
    """One model's suite run against its relation. ``error`` is set when it could not run."""

    model: str
    relation: str
    suite_path: str
    outcomes: tuple[ExpectationOutcome, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return self.error is None and all(o.success for o in self.outcomes)

    @property
    def failed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "relation": self.relation,
            "suite_path": self.suite_path,
            "success": self.success,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "expectations": len(self.outcomes),
            "failed": len(self.failed),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelValidation":
        return cls(
            model=data["model"],
            relation=data.get("relation", ""),
            suite_path=data.get("suite_path", ""),
            outcomes=tuple(ExpectationOutcome.from_dict(o) for o in data.get("outcomes", [])),
            error=data.get("error"),
            seconds=float(data.get("seconds") or 0.0),
        )
