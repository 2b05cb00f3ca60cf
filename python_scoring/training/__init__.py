"""`scorehouse train`: plan the months and the sample (`plan`), fit, search and evaluate
(`fit`), record the run in the warehouse (`record`), print it (`report`); `train`
orchestrates one registry model."""
