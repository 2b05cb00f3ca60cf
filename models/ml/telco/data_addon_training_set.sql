-- Data add-on training frame (features of m, label `bought_addon` of m+1, split).
{{ training_frame('target_data_addon', 'bought_addon') }}
