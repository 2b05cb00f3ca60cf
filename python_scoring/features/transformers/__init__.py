"""Fitted feature transformers that travel inside a model's pipeline (scikit-learn API).

- `InformationValueScreen`: drops features whose IV is below a limit.
- `PairwiseFeatures`: derives a+b, a-b, a*b, a/b among the top features by IV and keeps a
  derived feature only if its IV clears a limit and it is not too correlated with any
  feature already kept.
- `SplineNumbers`: numbers as cubic B-spline bases, for a linear model that may bend.
- `WoeEncoder`: equal-frequency bins (numeric) or categories (text) replaced by their
  weight of evidence, for scorecard-style logistic regression.

IV and WOE are `python_scoring.features.stats` (the definition the SQL macros are tested against).
"""

from python_scoring.features.transformers.iv_screen import InformationValueScreen
from python_scoring.features.transformers.pairwise import PairwiseFeatures
from python_scoring.features.transformers.spline import SplineNumbers
from python_scoring.features.transformers.woe import WoeEncoder

__all__ = ["InformationValueScreen", "PairwiseFeatures", "SplineNumbers", "WoeEncoder"]
