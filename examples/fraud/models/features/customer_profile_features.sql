-- Slowly changing customer attributes. A row at every version change and at the
-- first of every month the data covers (so account age stays current to within
-- a month), each carrying the version valid at feature_ts.
with versions as (

    select * from {{ ref('stg_customers') }}

),

month_starts as (

    select distinct cast(date_trunc('month', event_ts) as timestamp) as feature_ts
    from {{ ref('stg_transactions') }}

),

accounts as (

    select distinct customer_id, signup_ts from versions

),

profile_times as (

    select customer_id, valid_from as feature_ts from versions
    union
    select a.customer_id, m.feature_ts
    from accounts as a
    inner join month_starts as m
        on m.feature_ts >= a.signup_ts

),

final as (

    select
        p.customer_id,
        p.feature_ts,
        v.home_country,
        v.card_type,
        v.credit_limit,
        -- whole days elapsed since signup
        cast(floor({{ featurewarehouse.fw_seconds_between('v.signup_ts', 'p.feature_ts') }} / 86400) as bigint) as account_age_days
    from profile_times as p
    inner join versions as v
        on v.customer_id = p.customer_id
        and v.valid_from <= p.feature_ts
        and (v.valid_to is null or p.feature_ts < v.valid_to)

)

select * from final
