-- Potential-customer training frame: corporate_potential_features of month m (corporate
-- features without the two transaction averages, with the registration details), label
-- `is_potential` of the same month (target_corporate_potential; null labels left out),
-- split train/test by id hash; see cv_training_frame.
{{ cv_training_frame('corporate_potential_features', 'target_corporate_potential', 'is_potential',
                     'customer_id') }}
