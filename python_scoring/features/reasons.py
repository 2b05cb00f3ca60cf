"""Reason codes: which features push a customer's score up.

Exact TreeSHAP (LightGBM `pred_contrib`) costs ~1-2 ms per row on a 300-tree model, hours
for a national base. Reason codes instead use *path attribution* (Saabas, as in
treeinterpreter): walking a row's path through a tree, each split moves the prediction
from the parent node's value to the child's, and that change is credited to the split's
feature. Per tree, every leaf's credit vector is fixed, so it is precomputed once
(leaves x features) and a row's contributions are the sum, over trees, of the vectors of
the leaves it lands in (`pred_leaf`), a gather instead of a tree walk.

Contributions are in raw-score (log-odds) units and, with the bias (the sum of the trees'
root values), add up exactly to the model's raw score.

Random forests get the same path attribution in probability units (each tree's credits
divided by the number of trees; with the mean root value they add up to predict_proba),
per leaf precomputed too, gathered through the leaves each tree's walk finds; that walk
gives the score as well (`ForestAttribution.explain`), so scoring with reasons walks
the forest once. Linear models credit each input
with coefficient x value: the inputs are standardised numbers, one-hot indicators or
weights of evidence, so the largest products are the strongest pushes up (log-odds units).

ml.model_scores keeps, per reason, the feature's name (a column the estimator sees: a
one-hot `contract_Month-to-month` or a missing indicator `missingindicator_tenure` under
linear preprocessing), its contribution in these units, and the customer's value of the
input column it encodes (`encoded_sources`), before encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

SMALL_ROWS = 64  # a batch this small gathers all trees' credits at once (online requests)
# rows whose contributions are summed tree by tree at once: their sums and a tree's
# credits stay in cache; chunks go to two threads (numpy's gathers and adds, and the
# forest's tree walks, release the GIL)
CHUNK_ROWS = 2_048
THREADS = 2


def _by_chunks(n: int, work: Callable[[slice], None]) -> None:
    """work(rows) over the chunks of CHUNK_ROWS rows of n, on THREADS threads."""
    if n <= CHUNK_ROWS:
        work(slice(0, n))
        return
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, (slice(s, s + CHUNK_ROWS) for s in range(0, n, CHUNK_ROWS))))


def _node_value(node: dict[str, Any]) -> float:
    return node["leaf_value"] if "leaf_value" in node else node["internal_value"]


class PathAttribution:
    """Per-row feature contributions of a LightGBM booster by path attribution."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster
        model = booster.dump_model()
        n_features = model["max_feature_idx"] + 1
        trees = model["tree_info"]
        width = max(tree["num_leaves"] for tree in trees)
        # leaf_credit[t, leaf, feature]: credit of `feature` on the path to `leaf` of tree t
        self.leaf_credit = np.zeros((len(trees), width, n_features))
        self.bias = 0.0
        for t, tree in enumerate(trees):
            root = tree["tree_structure"]
            self.bias += _node_value(root)
            stack = [(root, np.zeros(n_features))]
            while stack:
                node, credit = stack.pop()
                if "split_feature" not in node:  # a leaf (a one-leaf tree has no index)
                    self.leaf_credit[t, node.get("leaf_index", 0)] = credit
                    continue
                for child in (node["left_child"], node["right_child"]):
                    child_credit = credit.copy()
                    child_credit[node["split_feature"]] += _node_value(child) - _node_value(node)
                    stack.append((child, child_credit))

    def contributions(self, features: Any) -> np.ndarray:
        """rows x features contributions (raw-score units)."""
        if hasattr(features, "to_numpy"):  # LightGBM's own pandas checks cost ~0.5 ms a call
            features = features.to_numpy(dtype=np.float64)
        # (num_threads given: LightGBM's default here is ~1.6x slower on two cores)
        leaves = self.booster.predict(features, pred_leaf=True, num_threads=THREADS)
        leaves = leaves.reshape(len(leaves), -1)
        if len(leaves) <= SMALL_ROWS:
            # one gather and a sum over the trees: the loop's additions in its order (a
            # reduction over an axis that is not the innermost adds row after row, with no
            # pairwise summation), without a numpy call per tree; + 0.0 as 0.0 + -0.0
            credits = self.leaf_credit[np.arange(leaves.shape[1]), leaves]
            return np.add.reduce(credits, axis=1) + 0.0
        out = np.zeros((leaves.shape[0], self.leaf_credit.shape[2]))

        def add(rows: slice) -> None:
            chunk, leaf = out[rows], leaves[rows]
            for t in range(leaf.shape[1]):
                chunk += self.leaf_credit[t, leaf[:, t]]

        _by_chunks(len(out), add)
        return out


class ForestAttribution:
    """Per-row feature contributions of a scikit-learn random forest by path attribution:
    each leaf's credit vector precomputed once (as for LightGBM), held per tree as a dense
    leaves x features block (over the features the tree splits on, when that is under
    half of them), and a row's contributions the sum of its leaves' rows. `explain` walks
    each tree once per row for both the score (predict_proba's mean of the leaves'
    values) and the contributions, chunk by chunk (_by_chunks)."""

    def __init__(self, forest: RandomForestClassifier) -> None:
        self.forest = forest
        n_trees = len(forest.estimators_)
        n_features = forest.n_features_in_
        positive = list(forest.classes_).index(1)
        self.bias = 0.0
        # per tree: (its Tree, node -> row of its block, block, the block's feature
        # columns or None for all, each node's value / n_trees)
        self.trees = []
        for estimator in forest.estimators_:
            tree = estimator.tree_
            value = tree.value[:, 0, positive] / tree.value[:, 0, :].sum(axis=1)
            self.bias += value[0] / n_trees
            inner = np.flatnonzero(tree.children_left >= 0)  # leaves have children -1
            parent = np.full(tree.node_count, -1)
            parent[tree.children_left[inner]] = inner
            parent[tree.children_right[inner]] = inner
            leaves = np.flatnonzero(tree.children_left < 0)
            row_of = np.zeros(tree.node_count, dtype=np.intp)
            row_of[leaves] = np.arange(len(leaves))
            block = np.zeros((len(leaves), n_features))
            # walk every leaf's path up to the root at once: entering `node` from its
            # parent credits the parent's split feature with the change in value (the
            # splits on one feature summed)
            node, owner = leaves, row_of[leaves]
            while len(node):
                up = parent[node]
                climbing = up >= 0
                node, up, owner = node[climbing], up[climbing], owner[climbing]
                np.add.at(block, (owner, tree.feature[up]), (value[node] - value[up]) / n_trees)
                node = up
            used = np.unique(tree.feature[inner])
            columns = used if 2 * len(used) < n_features else None
            if columns is not None:
                block = np.ascontiguousarray(block[:, columns])
            self.trees.append((tree, row_of, block, columns, value / n_trees))

    def explain(self, features: Any, credits: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The positive class's score (as predict_proba's, to ~1e-16) and the rows x
        features contributions (probability units; without `credits`, rows x 0), from
        one walk of each tree."""
        x = self.forest._validate_X_predict(features)  # float32, as the trees compare
        n = x.shape[0]
        scores = np.zeros(n)
        out = np.zeros((n, self.forest.n_features_in_ if credits else 0))
        _by_chunks(n, lambda rows: self._explain_rows(x[rows], scores[rows], out[rows]))
        return scores, out

    def _explain_rows(self, x: Any, scores: np.ndarray, out: np.ndarray) -> None:
        for tree, row_of, block, columns, value in self.trees:
            nodes = tree.apply(x)
            scores += value[nodes]
            if not out.shape[1]:
                continue
            if columns is None:
                out += block[row_of[nodes]]
            else:
                out[:, columns] += block[row_of[nodes]]

    def contributions(self, features: Any) -> np.ndarray:
        return self.explain(features)[1]


class LinearAttribution:
    """Per-row contributions of a linear model: coefficient x (transformed) input value."""

    def __init__(self, model: LogisticRegression) -> None:
        self.coef = np.asarray(model.coef_, dtype="float64").ravel()
        self.bias = float(np.ravel(model.intercept_)[0])

    def contributions(self, features: Any) -> np.ndarray:
        return np.asarray(features, dtype="float64") * self.coef


def attribution_for(model: Any) -> PathAttribution | ForestAttribution | LinearAttribution:
    """The attribution method of a fitted estimator."""
    if isinstance(model, LGBMClassifier):
        return PathAttribution(model.booster_)
    if isinstance(model, RandomForestClassifier):
        return ForestAttribution(model)
    if isinstance(model, LogisticRegression):
        return LinearAttribution(model)
    raise TypeError(f"no reason-code method for {type(model).__name__}")


def top_contributions(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns of the k largest contributions, largest first, and those
    contributions (two rows x min(k, features) arrays). A reason is a positive one."""
    k = min(k, contributions.shape[1])
    if k == 0:
        empty = np.zeros((contributions.shape[0], 0))
        return empty.astype(np.intp), empty
    top = np.argpartition(-contributions, k - 1, axis=1)[:, :k]
    top_values = np.take_along_axis(contributions, top, axis=1)
    order = np.argsort(-top_values, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_values, order, axis=1)


def top_reasons(contributions: np.ndarray, names: list[str], k: int) -> list[np.ndarray]:
    """Per row, the names of the k features with the largest positive contribution, most
    positive first; None where fewer than k features push the score up."""
    top, top_values = top_contributions(contributions, k)
    labels = np.asarray(names, dtype=object)[top]
    labels[top_values <= 0] = None
    return [labels[:, i] for i in range(top.shape[1])]


_MISSING_INDICATOR = "missingindicator_"  # scikit-learn's SimpleImputer(add_indicator=True)


def _source(name: str, columns: list[str]) -> str | None:
    """The input column an output column of a transformer fitted on `columns` encodes: the
    column itself (passthrough, ordinal, scaled, WOE), `c` for a missing indicator
    `missingindicator_c`, or for a one-hot `c_<category>` the longest `c` it starts with."""
    if name in columns:
        return name
    if name.startswith(_MISSING_INDICATOR) and name[len(_MISSING_INDICATOR) :] in columns:
        return name[len(_MISSING_INDICATOR) :]
    prefixes = [c for c in columns if name.startswith(f"{c}_")]
    return max(prefixes, key=len) if prefixes else None


def encoded_sources(prep: Any, names: list[str]) -> list[str | None]:
    """For each column the estimator sees (`names`, the fitted preprocessing step's
    output), the column of that step's input it encodes (None when none is found): where
    a reason's value is read, before encoding."""
    sources: dict[str, str | None] = {}
    for _, transformer, columns in getattr(prep, "transformers_", []):
        columns = [str(c) for c in columns]
        if not columns:  # a transformer without columns is left unfitted
            continue
        if isinstance(transformer, str):  # "passthrough" keeps its columns, "drop" none
            outputs = columns if transformer == "passthrough" else []
        else:
            outputs = [str(c) for c in transformer.get_feature_names_out(columns)]
        for name in outputs:
            sources[name] = _source(name, columns)
    inputs = [str(c) for c in getattr(prep, "feature_names_in_", [])]
    return [sources[n] if n in sources else _source(n, inputs) for n in names]
