"""Jobs that run several steps for a person: the monthly cycle (`cycle`, `scorehouse
run`), the bank's file-in/file-out jobs (`bank_files`, `scorehouse bank`) and the summary
of a warehouse (`summary`)."""

# the file-in/file-out jobs of `scorehouse bank` (python_scoring.jobs.bank_files.JOBS);
# here so that `scorehouse --help` need not import the jobs
BANK_JOB_NAMES = ("churn-warning", "potential", "cross-sell", "product-mining")
