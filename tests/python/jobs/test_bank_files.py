"""The bank file jobs' names: the CLI offers BANK_JOB_NAMES without importing the jobs
module; every name must be a job and every job offered. (The jobs themselves run in
tests/python/test_bank.py.)"""

from python_scoring.jobs import BANK_JOB_NAMES
from python_scoring.jobs.bank_files import JOBS


def test_the_cli_offers_exactly_the_jobs_there_are():
    assert tuple(JOBS) == BANK_JOB_NAMES
