"""Feature services: a named, owned, described list of feature refs, declared once.

Declared in the project's ``dbt_project.yml`` (vars are what dbt macros can
read at parse time, so ``point_in_time_join(feature_service=...)`` can ref()
the views)::

    vars:
      fw:
        feature_services:
          fraud_model:
            description: Features of the fraud classifier.
            owner: risk-ml
            features: [customer_spend_features:*, merchant_risk_features:chargeback_rate_90d]
            logging: {enabled: true, sample_rate: 0.1}

A training set names its service once, in its YAML
(``config.meta.fw.feature_service``), and passes the same name to the macro;
the macro checks that they agree when it runs. Its YAML lists no features.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from featurewarehouse.errors import Problem

SERVICE_KEYS = ("description", "owner", "features", "logging")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ServiceSpec:
    """A service as declared (refs not yet expanded)."""

    name: str
    features: tuple[Any, ...]
    description: str = ""
    owner: str | None = None
    logging: dict[str, Any] = field(default_factory=dict, hash=False)


def parse_services(raw: Any, problems: list[Problem]) -> dict[str, ServiceSpec]:
    """``vars.fw.feature_services`` to specs; every problem appended (file, key, fix)."""
    out: dict[str, ServiceSpec] = {}
    if raw is None:
        return out
    base = "dbt_project.yml: vars.fw.feature_services"
    if not isinstance(raw, dict):
        problems.append(Problem("vars.fw.feature_services must be a mapping of service name to its spec", base,
                                "write feature_services: {fraud_model: {features: [view:feature, ...]}}"))
        return out
    for name, spec in sorted(raw.items(), key=lambda kv: str(kv[0])):
        at = f"{base}.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(Problem(f"feature service name {name!r} is not a plain name", at,
                                    "use letters, digits and underscores, e.g. fraud_model"))
            continue
        if not isinstance(spec, dict):
            problems.append(Problem(f"feature service {name!r} must be a mapping", at,
                                    "write {description: ..., owner: ..., features: [view:feature, ...]}"))
            continue
        unknown = sorted(set(spec) - set(SERVICE_KEYS))
        if unknown:
            problems.append(Problem(f"feature service {name!r} has unknown key(s) {', '.join(map(str, unknown))}",
                                    at, f"known keys: {', '.join(SERVICE_KEYS)}"))
        features = spec.get("features")
        if not isinstance(features, list) or not features:
            problems.append(Problem(f"feature service {name!r} lists no features", f"{at}.features",
                                    "write features: [view:feature, view:*, ...]"))
            continue
        logging = spec.get("logging") or {}
        if not isinstance(logging, dict) or set(logging) - {"enabled", "sample_rate"}:
            problems.append(Problem(f"logging of feature service {name!r} must be {{enabled, sample_rate}}",
                                    f"{at}.logging", "write logging: {enabled: true, sample_rate: 0.1}"))
            logging = {}
        if "enabled" in logging and not isinstance(logging["enabled"], bool):
            problems.append(Problem(f"logging.enabled of feature service {name!r} must be a YAML boolean, "
                                    f"got {logging['enabled']!r}", f"{at}.logging.enabled",
                                    "write enabled: true or enabled: false (no quotes)"))
        rate = logging.get("sample_rate")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1):
            problems.append(Problem(f"logging.sample_rate of feature service {name!r} must be a number "
                                    f"from 0 to 1, got {rate!r}", f"{at}.logging.sample_rate",
                                    "write e.g. sample_rate: 0.1 (a tenth of the requests)"))
        owner = spec.get("owner")
        out[name] = ServiceSpec(name=name, features=tuple(features), description=str(spec.get("description") or ""),
                                owner=str(owner) if owner else None, logging=dict(logging))
    return out
