{#-
  Metadata helpers for the point-in-time macros: read a feature view's
  `config.meta.fw` and columns from the graph, entities from var('fw'), and
  raise errors that name the macro, the calling model and the fix.
  Internal: called by point_in_time_join and latest_feature_values only.
-#}

{% macro fw_pit_fail(macro_name, what, fix) %}
    {%- set where = model.unique_id ~ ' (' ~ model.original_file_path ~ ')' if model is defined and model.unique_id else 'an inline query' -%}
    {{ exceptions.raise_compiler_error(
        'featurewarehouse.' ~ macro_name ~ ' in ' ~ where ~ ': ' ~ what ~ '\nfix: ' ~ fix) }}
{% endmacro %}


{#- Edit distance with transpositions (optimal string alignment), for "did you mean" (Jinja has no difflib). -#}
{% macro fw_pit_edit_distance(a, b) %}
    {%- set rows = namespace(prev2=[], prev=range(b | length + 1) | list) -%}
    {%- for i in range(1, a | length + 1) -%}
        {%- set cur = [i] -%}
        {%- for j in range(1, b | length + 1) -%}
            {%- set cost = 0 if a[i - 1] == b[j - 1] else 1 -%}
            {%- set best = [rows.prev[j] + 1, cur[j - 1] + 1, rows.prev[j - 1] + cost] | min -%}
            {%- if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] -%}
                {%- set best = [best, rows.prev2[j - 2] + 1] | min -%}
            {%- endif -%}
            {%- do cur.append(best) -%}
        {%- endfor -%}
        {%- set rows.prev2 = rows.prev -%}
        {%- set rows.prev = cur -%}
    {%- endfor -%}
    {{ return(rows.prev[b | length]) }}
{% endmacro %}


{#- " Did you mean 'x'?": the closest names within max(2, a third of the length) edits, or a prefix match. -#}
{% macro fw_pit_did_you_mean(name, candidates) %}
    {%- set scored = [] -%}
    {%- for c in candidates -%}
        {%- set d = featurewarehouse.fw_pit_edit_distance(name | lower, c | lower) -%}
        {%- set limit = [2, ([name | length, c | length] | max) // 3] | max -%}
        {%- if d <= limit or (name | length >= 3 and (c.startswith(name) or name.startswith(c))) -%}
            {%- do scored.append((d, c)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if scored | length == 0 -%}{{ return('') }}{%- endif -%}
    {#- only the closest: a typo should not suggest every name of similar length -#}
    {%- set closest = (scored | sort | first)[0] -%}
    {%- set names = [] -%}
    {%- for pair in (scored | sort)[:3] if pair[0] == closest -%}{%- do names.append("'" ~ pair[1] ~ "'") -%}{%- endfor -%}
    {{ return(' Did you mean ' ~ names | join(' or ') ~ '?') }}
{% endmacro %}


{#- TTL to seconds (none: no TTL) by the contract's rule (fw_ttl_parse); a malformed one fails. -#}
{% macro fw_pit_ttl_seconds(ttl, view_name, macro_name) %}
    {%- set parsed = featurewarehouse.fw_ttl_parse(ttl) -%}
    {%- if not parsed.ok -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "feature view '" ~ view_name ~ "' has a malformed ttl '" ~ ttl ~ "' in config.meta.fw.ttl",
            "write a positive number and a unit with no spaces (45s, 90m, 12h, 30d or 2w), or an integer of seconds, in the view's YAML, or remove ttl for no limit") }}
    {%- endif -%}
    {{ return(parsed.seconds) }}
{% endmacro %}


{#- The model node named `name` in the graph, or none. -#}
{% macro fw_pit_find_model(name) %}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.name == name -%}{{ return(node) }}{%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- meta.fw of a node or column: `config.meta.fw` (dbt >= 1.10) or the older top-level `meta.fw`. -#}
{% macro fw_pit_fw_meta(obj) %}
    {%- set config_meta = ((obj.get('config') or {}).get('meta') or {}) -%}
    {%- set fw = config_meta.get('fw') or (obj.get('meta') or {}).get('fw') or {} -%}
    {{ return(fw) }}
{% endmacro %}


{#-
  What a macro generated for the model at parse time (config.meta.fw_generated,
  written by rolling_features): {columns: {name: column entry}, ttl}. The same
  rule as registry/records.py node_columns/view_ttl: the YAML's own columns, then
  the generated ones in order, a column the YAML also lists taking the YAML's
  entry; config.meta.fw.ttl (even null) wins over the generated TTL.
-#}
{% macro fw_pit_generated(node) %}
    {{ return(((node.get('config') or {}).get('meta') or {}).get('fw_generated') or (node.get('meta') or {}).get('fw_generated') or {}) }}
{% endmacro %}

{% macro fw_pit_columns(node) %}
    {%- set yaml = node.columns or {} -%}
    {%- set made = featurewarehouse.fw_pit_generated(node).get('columns') or {} -%}
    {%- set columns = {} -%}
    {%- for name, col in yaml.items() if name not in made -%}{%- do columns.update({name: col}) -%}{%- endfor -%}
    {%- for name, col in made.items() -%}{%- do columns.update({name: yaml.get(name, col)}) -%}{%- endfor -%}
    {{ return(columns) }}
{% endmacro %}


{#-
  The join keys of an entity (or list of entities) declared in vars.fw.entities,
  in order, each once. `owner` names what declares the entity in errors (a
  feature view and its file), or none for a macro's `entity` argument.
-#}
{% macro fw_pit_entity_keys(entity, macro_name, owner=none) %}
    {%- set declared = (var('fw', {}) or {}).get('entities') or {} -%}
    {%- set known = declared.keys() | list | sort | join(', ') -%}
    {%- set names = [entity] if entity is string else (entity or []) -%}
    {%- if names | length == 0 -%}
        {%- if owner -%}
            {{ featurewarehouse.fw_pit_fail(macro_name, owner ~ " declares no entity in config.meta.fw.entity",
                "add `entity: <name>` (one of: " ~ known ~ ") to its config.meta.fw") }}
        {%- endif -%}
        {{ featurewarehouse.fw_pit_fail(macro_name, "entity is missing", "pass entity='<name>' (one of: " ~ known ~ ")") }}
    {%- endif -%}
    {%- set keys = [] -%}
    {%- for e in names -%}
        {%- if e not in declared -%}
            {{ featurewarehouse.fw_pit_fail(macro_name,
                ((owner ~ " names ") if owner else "") ~ "unknown entity '" ~ e ~ "'." ~ featurewarehouse.fw_pit_did_you_mean(e, declared.keys() | list),
                "use one of the entities declared in dbt_project.yml under vars.fw.entities ("
                    ~ known ~ "), or declare '" ~ e ~ "' there") }}
        {%- endif -%}
        {%- for k in declared[e].get('join_keys') or [] -%}
            {%- set kname = k.get('name') if k is mapping else k -%}
            {%- if kname not in keys -%}{%- do keys.append(kname) -%}{%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if keys | length == 0 -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "the entities " ~ names | join(', ') ~ ((" of " ~ owner) if owner else "") ~ " declare no join_keys",
            "give each entity join_keys: [{name: ..., dtype: ...}] in dbt_project.yml vars.fw.entities") }}
    {%- endif -%}
    {{ return(keys) }}
{% endmacro %}


{#-
  Everything the SQL needs about one feature view, checked:
  {name, relation, keys: [join key names], timestamp, created, available,
   ttl_seconds, features: [{name, data_type}] in declared column order}.
-#}
{% macro fw_pit_view_meta(view_name, macro_name) %}
    {%- set node = featurewarehouse.fw_pit_find_model(view_name) -%}
    {%- if node is none -%}
        {%- set views = [] -%}
        {%- for n in graph.nodes.values() -%}
            {%- if n.resource_type == 'model' and featurewarehouse.fw_pit_fw_meta(n).get('kind') == 'feature_view' -%}
                {%- do views.append(n.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "unknown feature view '" ~ view_name ~ "'." ~ featurewarehouse.fw_pit_did_you_mean(view_name, views),
            "reference one of the feature views (" ~ (views | sort | join(', ') or 'none declared') ~ "), or declare kind: feature_view in the model's config.meta.fw") }}
    {%- endif -%}
    {%- set fw = featurewarehouse.fw_pit_fw_meta(node) -%}
    {#- metadata lives in the YAML next to the SQL: point there when dbt knows it -#}
    {%- set where = (node.patch_path or '').split('://') | last or node.original_file_path -%}
    {%- if fw.get('kind') != 'feature_view' -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "model '" ~ view_name ~ "' (" ~ where ~ ") is not a feature view (config.meta.fw.kind is '" ~ fw.get('kind') ~ "')",
            "set config.meta.fw.kind: feature_view in its YAML, or reference a feature view") }}
    {%- endif -%}

    {%- set keys = featurewarehouse.fw_pit_entity_keys(fw.get('entity'), macro_name, "feature view '" ~ view_name ~ "' (" ~ where ~ ")") -%}

    {#- timestamps -#}
    {%- if not fw.get('timestamp') -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "feature view '" ~ view_name ~ "' (" ~ where ~ ") has no timestamp column in config.meta.fw.timestamp",
            "add `timestamp: <column>` (the time its values became true) to the view's config.meta.fw") }}
    {%- endif -%}
    {%- set ttl = fw.get('ttl') if 'ttl' in fw else featurewarehouse.fw_pit_generated(node).get('ttl') -%}
    {%- set ttl_seconds = featurewarehouse.fw_pit_ttl_seconds(ttl, view_name, macro_name) -%}

    {#- features: columns marked config.meta.fw.feature: true, in declared order -#}
    {%- set features = [] -%}
    {%- for col_name, col in featurewarehouse.fw_pit_columns(node).items() -%}
        {%- if featurewarehouse.fw_pit_fw_meta(col).get('feature') -%}
            {%- do features.append({'name': col.get('name') or col_name, 'data_type': col.get('data_type') or ''}) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set relation = ref(view_name) -%}
    {{ return({
        'name': view_name,
        'relation': relation,
        'original_file_path': where,
        'keys': keys,
        'timestamp': fw.get('timestamp'),
        'created': fw.get('created_timestamp') or none,
        'available': fw.get('available_timestamp') or none,
        'ttl_seconds': ttl_seconds,
        'features': features,
    }) }}
{% endmacro %}


{#-
  At parse time: record the view as a dependency (ref) so dbt builds it first.
  When the graph is already loaded (inline queries: `dbt compile/show --inline`),
  an unknown view gets this macro's error; while dbt parses the project's own
  models the graph is still empty, and dbt reports the unknown ref itself
  ("depends on a node named '...' which was not found").
-#}
{% macro fw_pit_parse_ref(view_name, macro_name) %}
    {%- set known = (graph.get('nodes') or {}).values() | selectattr('resource_type', 'equalto', 'model') | map(attribute='name') | list -%}
    {%- if known | length > 0 and view_name not in known -%}
        {%- do featurewarehouse.fw_pit_view_meta(view_name, macro_name) -%}
    {%- endif -%}
    {%- do ref(view_name) -%}
{% endmacro %}


{#- Parse 'view:feature' / 'view:*' texts into [(view, feature)], in order (fw_parse_ref: the contract's rule). -#}
{% macro fw_pit_parse_refs(features, macro_name) %}
    {%- if features is string or features is none or features is mapping or features | length == 0 -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "features must be a non-empty list of 'feature_view:feature' references, got " ~ features,
            "pass e.g. features=['customer_spend_features:txn_count_7d', 'merchant_risk_features:*']") }}
    {%- endif -%}
    {%- set refs = [] -%}
    {%- for text in features -%}
        {%- set parts = featurewarehouse.fw_parse_ref(text) -%}
        {%- if parts is none -%}
            {{ featurewarehouse.fw_pit_fail(macro_name,
                "malformed feature reference '" ~ text ~ "'",
                "write it as feature_view:feature, or feature_view:* for all of a view's features") }}
        {%- endif -%}
        {%- do refs.append((parts[0], parts[1])) -%}
    {%- endfor -%}
    {{ return(refs) }}
{% endmacro %}


{#-
  The features list of a point-in-time join: `features`, or the features of the
  feature service `feature_service` (vars.fw.feature_services), never both.
  When the calling model's YAML names a service (config.meta.fw.feature_service),
  the SQL must pass that same service: one list, written once, that cannot drift.
-#}
{% macro fw_pit_features_arg(features, feature_service, macro_name) %}
    {%- if features is not none and feature_service is not none -%}
        {{ featurewarehouse.fw_pit_fail(macro_name, "both features=[...] and feature_service='" ~ feature_service ~ "' are given",
            "pass one of them: the feature service's list, or an explicit features list") }}
    {%- endif -%}
    {%- set declared = none -%}
    {%- if execute and model is defined and model -%}
        {#- at parse time the YAML is not applied to the node yet: check when the SQL runs -#}
        {%- set declared = featurewarehouse.fw_pit_fw_meta(model).get('feature_service') -%}
    {%- endif -%}
    {%- if declared is not none and declared != feature_service -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "the model's YAML names feature service '" ~ declared ~ "' (config.meta.fw.feature_service) but its SQL "
                ~ ("uses feature service '" ~ feature_service ~ "'" if feature_service is not none else "passes features=[...]"),
            "call " ~ macro_name ~ "(..., feature_service='" ~ declared ~ "') in the SQL, or fix the YAML") }}
    {%- endif -%}
    {%- if feature_service is none -%}{{ return(features) }}{%- endif -%}
    {%- set services = (var('fw', {}) or {}).get('feature_services') or {} -%}
    {%- if feature_service is not string or feature_service not in services -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "unknown feature service '" ~ feature_service ~ "'."
                ~ featurewarehouse.fw_pit_did_you_mean(feature_service | string, services.keys() | list),
            "declare it in dbt_project.yml under vars.fw.feature_services (known: "
                ~ (services.keys() | list | sort | join(', ') or 'none') ~ ")") }}
    {%- endif -%}
    {%- set spec = services[feature_service] -%}
    {%- set listed = spec.get('features') if spec is mapping else none -%}
    {%- if listed is string or listed is none or listed is mapping or listed | length == 0 -%}
        {{ featurewarehouse.fw_pit_fail(macro_name, "feature service '" ~ feature_service ~ "' lists no features",
            "write vars.fw.feature_services." ~ feature_service ~ ".features: [view:feature, view:*, ...] in dbt_project.yml") }}
    {%- endif -%}
    {{ return(listed | list) }}
{% endmacro %}


{#-
  The plan of a point-in-time join: the views in first-mention order, each with
  the features to output and their output names. At parse time (execute is
  false) it only records the dependencies with ref() and returns none.
-#}
{% macro fw_pit_plan(spine, spine_timestamp, features, full_feature_names, macro_name) %}
    {%- if spine is none or (spine is string and spine.strip() == '') -%}
        {{ featurewarehouse.fw_pit_fail(macro_name, "spine is missing",
            "pass spine=ref('your_label_model') (or the name of a table holding the entity keys and timestamps)") }}
    {%- endif -%}
    {%- if spine_timestamp is not string or spine_timestamp.strip() == '' -%}
        {{ featurewarehouse.fw_pit_fail(macro_name, "spine_timestamp must name the spine's timestamp column, got " ~ spine_timestamp,
            "pass e.g. spine_timestamp='event_ts'") }}
    {%- endif -%}
    {%- set refs = featurewarehouse.fw_pit_parse_refs(features, macro_name) -%}
    {%- set view_names = [] -%}
    {%- for r in refs -%}{%- if r[0] not in view_names -%}{%- do view_names.append(r[0]) -%}{%- endif -%}{%- endfor -%}
    {%- if not execute -%}
        {%- for v in view_names -%}{%- do featurewarehouse.fw_pit_parse_ref(v, macro_name) -%}{%- endfor -%}
        {{ return(none) }}
    {%- endif -%}

    {%- set views = [] -%}
    {%- set by_name = {} -%}
    {%- for v in view_names -%}
        {%- set meta = featurewarehouse.fw_pit_view_meta(v, macro_name) -%}
        {%- do meta.update({'selected': []}) -%}
        {%- do views.append(meta) -%}
        {%- do by_name.update({v: meta}) -%}
    {%- endfor -%}

    {#- Expand by the contract's ref rules (fw_expand_refs, the same as refs.expand_refs). -#}
    {%- set features_of = {} -%}
    {%- for meta in views -%}{%- do features_of.update({meta.name: meta.features | map(attribute='name') | list}) -%}{%- endfor -%}
    {%- set expanded = featurewarehouse.fw_expand_refs(features | list, features_of) -%}
    {%- if expanded.error == 'no_features' -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "feature view '" ~ expanded.view ~ "' (" ~ by_name[expanded.view].original_file_path ~ ") declares no features",
            "mark its feature columns with config: {meta: {fw: {feature: true}}} in its YAML") }}
    {%- elif expanded.error == 'unknown_feature' -%}
        {%- set names = features_of[expanded.view] -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "unknown feature '" ~ expanded.view ~ ":" ~ expanded.feature ~ "': feature view '" ~ expanded.view ~ "' has no feature '" ~ expanded.feature ~ "'."
                ~ featurewarehouse.fw_pit_did_you_mean(expanded.feature, names),
            "use one of its features (" ~ names | join(', ') ~ "), or mark the column with config.meta.fw.feature: true in "
                ~ by_name[expanded.view].original_file_path) }}
    {%- elif expanded.error == 'twice' -%}
        {{ featurewarehouse.fw_pit_fail(macro_name,
            "feature '" ~ expanded.view ~ ":" ~ expanded.feature ~ "' is listed twice",
            "list each feature once in features=[...]") }}
    {%- elif expanded.error -%}
        {{ featurewarehouse.fw_pit_fail(macro_name, "cannot expand feature reference '" ~ expanded.ref ~ "' (" ~ expanded.error ~ ")",
            "write it as feature_view:feature, or feature_view:* for all of a view's features") }}
    {%- endif -%}
    {%- for r in expanded.selected -%}
        {%- do by_name[r[0]].selected.append({'name': r[1], 'output': (r[0] ~ '__' ~ r[1]) if full_feature_names else r[1]}) -%}
    {%- endfor -%}

    {#- Output names must be unique. -#}
    {%- set outputs = {} -%}
    {%- for meta in views -%}
        {%- for f in meta.selected -%}
            {%- if f.output | lower in outputs -%}
                {{ featurewarehouse.fw_pit_fail(macro_name,
                    "feature name '" ~ f.output ~ "' clashes: both '" ~ outputs[f.output | lower] ~ "' and '" ~ meta.name ~ "' provide it",
                    "pass full_feature_names=true to name the columns <view>__<feature>, or select only one of them") }}
            {%- endif -%}
            {%- do outputs.update({f.output | lower: meta.name}) -%}
        {%- endfor -%}
    {%- endfor -%}

    {#- The spine's columns, when knowable (a relation that exists): join keys, timestamp, no clash. -#}
    {%- set spine_columns = [] -%}
    {%- if spine is not string -%}
        {%- for c in adapter.get_columns_in_relation(spine) -%}{%- do spine_columns.append(c.name | lower) -%}{%- endfor -%}
    {%- endif -%}
    {%- if spine_columns | length > 0 -%}
        {%- if spine_timestamp | lower not in spine_columns -%}
            {{ featurewarehouse.fw_pit_fail(macro_name,
                "the spine " ~ spine ~ " has no column '" ~ spine_timestamp ~ "' (spine_timestamp)."
                    ~ featurewarehouse.fw_pit_did_you_mean(spine_timestamp | lower, spine_columns),
                "pass the name of the spine's event-time column as spine_timestamp") }}
        {%- endif -%}
        {%- for meta in views -%}
            {%- for k in meta['keys'] -%}
                {%- if k | lower not in spine_columns -%}
                    {{ featurewarehouse.fw_pit_fail(macro_name,
                        "the spine " ~ spine ~ " has no join-key column '" ~ k ~ "' needed by feature view '" ~ meta.name ~ "'",
                        "add a column named '" ~ k ~ "' (the entity's join key from vars.fw.entities) to the spine, e.g. `x as " ~ k ~ "`") }}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- for name, view in outputs.items() -%}
            {%- if name in spine_columns -%}
                {{ featurewarehouse.fw_pit_fail(macro_name,
                    "feature column '" ~ name ~ "' of '" ~ view ~ "' clashes with the spine column of the same name",
                    "pass full_feature_names=true, or rename the spine column") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return({'views': views}) }}
{% endmacro %}
