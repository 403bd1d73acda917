select * from {{ ref('customer_features_raw') }}
