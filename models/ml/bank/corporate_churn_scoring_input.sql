-- Corporate churn scoring input: the score month's corporate_month_features, without the
-- churn label's two inputs; see month_scoring_frame.
{{ month_scoring_frame('corporate_month_features',
                       exclude=['financial_assets_avg_daily', 'financial_assets_avg_daily_3m']) }}
