select * from {{ ref('merchant_features_raw') }}
