"""The bank scenarios (issue 7): synthetic data and the file-in/file-out commands.

Corporate churn warning and potential-customer discovery are ordinary registry models
(domain bank); retail clustering and association rules are rule sets (python_scoring.rules);
the SQL lives in models/*/bank. docs/bank.md describes the whole flow.
"""

# the file-in/file-out jobs of `scorehouse bank` (python_scoring.bank.files.JOBS)
JOB_NAMES = ("churn-warning", "potential", "cross-sell", "product-mining")
