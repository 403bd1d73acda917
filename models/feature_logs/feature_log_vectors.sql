-- One row per served vector (request x entity row), unpacked from the long
-- feature_log: the join keys of every declared entity as typed columns (null
-- when the request did not carry that key), and the vector's status counts.
{%- set keys = [] %}
{%- for entity_name, entity in (var('fw', {}).get('entities') or {}) | dictsort %}
    {%- for k in entity.get('join_keys') or [] %}
        {%- if k.name not in keys | map(attribute='name') | list %}{% do keys.append(k) %}{% endif %}
    {%- endfor %}
{%- endfor %}

with logged as (

    select * from {{ ref('feature_log') }}

),

vectors as (

    select
        request_id,
        row_index,
        min(served_at) as served_at,
        min(entity_keys) as entity_keys,
        count(*) as n_features,
        sum(case when status = 'PRESENT' then 1 else 0 end) as n_present,
        sum(case when status = 'NULL_VALUE' then 1 else 0 end) as n_null_value,
        sum(case when status = 'NOT_FOUND' then 1 else 0 end) as n_not_found,
        sum(case when status = 'OUTSIDE_MAX_AGE' then 1 else 0 end) as n_outside_max_age
    from logged
    group by request_id, row_index

),

final as (

    select
        request_id,
        row_index,
        served_at,
        {%- for k in keys %}
        cast({{ featurewarehouse.fw_json_key_text('entity_keys', k.name) }} as {{ featurewarehouse.fw_cast_type(k.dtype) }}) as {{ k.name }},
        {%- endfor %}
        entity_keys,
        cast(n_features as bigint) as n_features,
        cast(n_present as bigint) as n_present,
        cast(n_null_value as bigint) as n_null_value,
        cast(n_not_found as bigint) as n_not_found,
        cast(n_outside_max_age as bigint) as n_outside_max_age
    from vectors

)

select * from final
