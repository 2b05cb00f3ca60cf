"""What turns a row of features into a score and its reasons, shared by training and
scoring: the model pipeline (`pipeline`), the binning and information statistics that the
SQL macros compute too (`stats`), scikit-learn transformers (`transformers`), reasons by
path attribution (`reasons`), compiled tree prediction (`compiled`) and evaluation
metrics (`metrics`). No warehouse access here."""
