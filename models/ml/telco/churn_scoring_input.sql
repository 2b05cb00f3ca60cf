-- Churn scoring input: the score month's wide table; see scoring_frame.
{{ scoring_frame() }}
