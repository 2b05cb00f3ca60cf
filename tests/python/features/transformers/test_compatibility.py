"""scikit-learn API checks for the fitted transformers.

sklearn's full `check_estimator` feeds multiclass and regression targets, which IV and
WOE refuse by definition (they need a 0/1 label), so the checks below are the ones that
exercise the estimator API itself: cloning, params, pickling, fitting twice, unfitted
errors, pipelines, n_features_in_.
"""

import pytest
from sklearn.utils import estimator_checks

from python_scoring.features.transformers import (
    InformationValueScreen,
    PairwiseFeatures,
    WoeEncoder,
)

CHECKS = [
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_estimators_pickle",
    "check_estimators_unfitted",
    "check_fit1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_get_params_invariance",
    "check_mixin_order",
    "check_n_features_in",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_pipeline_consistency",
    "check_set_params",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformers_unfitted",
]
ESTIMATORS = [InformationValueScreen(iv_limit=0.0), PairwiseFeatures(iv_limit=0.0), WoeEncoder()]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sklearn_api(estimator, check):
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)
