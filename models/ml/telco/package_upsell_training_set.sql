-- Package up-sell training frame (features of m, label `upsold` of m+1, split).
{{ training_frame('target_package_upsell', 'upsold') }}
