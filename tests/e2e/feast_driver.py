"""Runs inside Feast's own virtualenv (not ours): calls Feast's SDK the way a Feast user does.

    <feast-venv>/bin/python feast_driver.py <repo_dir> <cases.json>

Each case is ``{"features": [...], "entity_rows": [...], "full_feature_names": bool}``, or names
``"feature_service"`` instead of ``features`` (passed as a Feast ``FeatureService``, as Feast users do);
prints one JSON line per case: ``{"dict": to_dict(), "df_columns": [...]}`` or
``{"error_class": ..., "error_module": ..., "message": ...}``.
"""
import json
import sys


def main() -> None:
    from feast import FeatureService, FeatureStore

    repo, cases_path = sys.argv[1], sys.argv[2]
    store = FeatureStore(repo_path=repo)
    with open(cases_path) as f:
        cases = json.load(f)
    for case in cases:
        try:
            response = store.get_online_features(
                # only the name travels (the remote store sends feature_service), so no Feast registry entry is needed
                features=FeatureService(name=case["feature_service"], features=[]) if "feature_service" in case
                else case["features"],
                entity_rows=case["entity_rows"],
                full_feature_names=case.get("full_feature_names", False),
            )
            out = {"dict": response.to_dict(), "df_columns": list(response.to_df().columns)}
        except Exception as exc:  # the test asserts what the SDK raised and said
            out = {"error_class": type(exc).__name__, "error_module": type(exc).__module__, "message": str(exc)}
        print(json.dumps(out, default=str), flush=True)


if __name__ == "__main__":
    main()
