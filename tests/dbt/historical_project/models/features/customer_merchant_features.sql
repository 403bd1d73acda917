select * from {{ ref('customer_merchant_features_raw') }}
