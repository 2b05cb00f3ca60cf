-- Churn training frame (features of m, label `churned` of m+1, split); see training_frame.
{{ training_frame('target_churn', 'churned') }}
