-- Potential-customer scoring input: the score month's corporate_potential_features; see
-- month_scoring_frame.
{{ month_scoring_frame('corporate_potential_features') }}
