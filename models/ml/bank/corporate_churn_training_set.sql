-- Corporate churn training frame: corporate_month_features of month m (without the two
-- financial-asset averages the label is made of), label `churned` of the same month
-- (target_corporate_churn; null labels left out), split train/test by id hash; see
-- cv_training_frame.
{{ cv_training_frame('corporate_month_features', 'target_corporate_churn', 'churned', 'customer_id',
                     exclude=['financial_assets_avg_daily', 'financial_assets_avg_daily_3m']) }}
