"""chainrule.sklearn: scikit-learn's estimator checks, the churn model inside a
Pipeline with GridSearchCV and cross_val_score, routed parameters, pickling."""

import io
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from safetensors.numpy import load as load_safetensors  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.layers import Dense  # noqa: E402
from chainrule.models import Sequential  # noqa: E402
from chainrule.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "sklearn.md"

# The checks that fail, with the reason; docs/sklearn.md lists each (tested below).
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample weights scale each sample's loss, which is then averaged over the batch's "
        "samples (Keras' rule), so a weight of 2 is not the same step as a repeated sample",
}


@parametrize_with_checks([NeuralNetClassifier(), NeuralNetRegressor()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_scikit_learn_estimator_checks(estimator, check):
    with cr.backend.limit_blas_threads(1):
        check(estimator)


def test_the_docs_list_every_expected_failure_with_its_reason():
    page = DOC.read_text()
    for name in EXPECTED_FAILED_CHECKS:
        assert f"`{name}`" in page, name


# ---------------------------------------------------------------- the churn model


def churn_frame() -> tuple:
    """The shipped bank-churn CSV as the tutorial reads it: features and ``Exited``."""
    frame = pd.read_csv(io.BytesIO(cr.datasets.read_bundled("Churn_Modelling.csv")))
    y = frame.pop("Exited").to_numpy()
    return frame.drop(columns=["RowNumber", "CustomerId", "Surname"]), y


def churn_pipeline(**classifier_params) -> Pipeline:
    columns = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         ["Geography", "Gender"]),
        ("numbers", StandardScaler(), ["CreditScore", "Age", "Tenure", "Balance",
                                       "NumOfProducts", "HasCrCard", "IsActiveMember",
                                       "EstimatedSalary"])])
    net = NeuralNetClassifier(epochs=3, random_state=0, **classifier_params)
    return Pipeline([("columns", columns), ("net", net)])


def test_churn_pipeline_in_a_grid_search_and_cross_validation():
    X, y = churn_frame()
    X, y = X.iloc[:3000], y[:3000]
    search = GridSearchCV(churn_pipeline(), {
        "net__model__hidden_layer_sizes": [(8,), (32, 16)],
        "net__optimizer__learning_rate": [0.001, 0.01]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ >= 0.82  # the majority class ("stays") is 0.79 of these rows
    best = search.best_estimator_.named_steps["net"]
    assert best.get_params()["model__hidden_layer_sizes"] == \
        search.best_params_["net__model__hidden_layer_sizes"]
    scores = cross_val_score(churn_pipeline(optimizer__learning_rate=0.01), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() >= 0.82, scores


def test_pickled_pipeline_predicts_the_same_values():
    X, y = churn_frame()
    pipe = churn_pipeline().fit(X.iloc[:2000], y[:2000])
    again = pickle.loads(pickle.dumps(pipe))
    new = X.iloc[2000:2500]
    np.testing.assert_array_equal(again.predict_proba(new), pipe.predict_proba(new))
    np.testing.assert_array_equal(again.predict(new), pipe.predict(new))


def test_pickle_holds_the_weights_as_safetensors_bytes():
    X, y = make_classification(60, 4, random_state=0)
    net = NeuralNetClassifier(epochs=2, random_state=0).fit(X, y)
    state = net.__getstate__()
    assert "model_" not in state and "model_" in vars(net)
    weights = load_safetensors(state["_model_bytes"]["weights"])
    assert weights.keys() == net.model_.state_dict().keys()
    for key, value in net.model_.state_dict().items():
        np.testing.assert_array_equal(weights[key], value)
    # the optimizer's state comes back too: training continues as it would have
    again = pickle.loads(pickle.dumps(net))
    net.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))


# ---------------------------------------------------------------- parameters


def test_routed_parameters_reach_the_builder_optimizer_and_fit():
    X, y = make_classification(80, 5, random_state=0)
    net = NeuralNetClassifier(model__hidden_layer_sizes=(7, 5), optimizer="sgd",
                              optimizer__learning_rate=0.05, optimizer__momentum=0.9,
                              fit__epochs=4, predict__batch_size=7, random_state=0)
    params = net.get_params()
    assert params["model__hidden_layer_sizes"] == (7, 5)
    assert params["optimizer__learning_rate"] == 0.05 and params["fit__epochs"] == 4
    net.fit(X, y)
    assert [layer.units for layer in net.model_.layers] == [7, 5, 1]
    assert type(net.model_.optimizer).__name__ == "SGD"
    assert net.model_.optimizer.lr == 0.05 and net.model_.optimizer.momentum == 0.9
    assert len(net.history_["loss"]) == 4  # fit__epochs wins over epochs=10
    net.set_params(model__hidden_layer_sizes=(3,), fit__epochs=1, loss="binary_crossentropy",
                   loss__name="churn_bce")
    assert net.get_params()["loss__name"] == "churn_bce"
    net.fit(X, y)
    assert [layer.units for layer in net.model_.layers] == [3, 1]
    assert net.model_.loss.name == "churn_bce" and len(net.history_["loss"]) == 1


def test_a_builder_receives_meta_and_routed_arguments():
    seen = {}

    def build(meta, n_features_in_, units=4):
        seen.update(meta=meta, n_features_in_=n_features_in_, units=units)
        return Sequential([Dense(units, activation="relu"),
                           Dense(meta["n_classes_"], activation="softmax")])

    X, y = load_iris(return_X_y=True)
    net = NeuralNetClassifier(build, model__units=6, epochs=1, random_state=0).fit(X, y)
    assert seen["units"] == 6 and seen["n_features_in_"] == 4
    assert seen["meta"]["n_classes_"] == 3 and seen["meta"]["target_type_"] == "multiclass"
    assert net.predict_proba(X).shape == (150, 3)
    assert net.model_.loss.name == "sparse_categorical_crossentropy"


def test_a_model_instance_is_copied_not_trained_in_place():
    X, y = make_regression(50, 3, random_state=0)
    model = Sequential([Dense(8, activation="relu", input_dim=3), Dense(1)])
    before = {k: v.copy() for k, v in model.state_dict().items()}
    reg = NeuralNetRegressor(model, epochs=2, random_state=0).fit(X, y)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    assert reg.model_ is not model and reg.predict(X).shape == (50,)
    with pytest.raises(ValueError, match="model__ parameters .*instance"):
        NeuralNetRegressor(model, model__units=3).fit(X, y)


def test_clone_keeps_routed_parameters_and_drops_the_fit():
    X, y = make_classification(40, 3, n_redundant=0, random_state=0)
    net = NeuralNetClassifier(model__hidden_layer_sizes=(4,), epochs=1, random_state=0)
    copy = clone(net.fit(X, y))
    assert copy.get_params() == net.get_params()
    assert not hasattr(copy, "model_") and not hasattr(copy, "classes_")


def test_string_labels_and_n_features_in():
    X, y = make_classification(100, 6, n_informative=4, n_classes=3, random_state=0)
    labels = np.array(["churned", "left", "stayed"])[y]
    net = NeuralNetClassifier(epochs=30, random_state=0).fit(X, labels)
    assert net.classes_.tolist() == ["churned", "left", "stayed"]
    assert net.n_features_in_ == 6 and net.n_classes_ == 3
    assert set(net.predict(X)) <= set(net.classes_)
    assert net.score(X, labels) > 0.6
    np.testing.assert_allclose(net.predict_proba(X).sum(axis=1), 1.0)


def test_partial_fit_continues_one_epoch_at_a_time():
    X, y = make_classification(64, 4, random_state=0)
    net = NeuralNetClassifier(random_state=0)
    net.partial_fit(X[:32], y[:32], classes=[0, 1])
    first = net.model_.state_dict()["0.kernel"].copy()
    net.partial_fit(X[32:], y[32:])
    assert len(net.history_["loss"]) == 2
    assert not np.array_equal(first, net.model_.state_dict()["0.kernel"])
    with pytest.raises(ValueError, match="features"):
        net.partial_fit(X[:, :3], y)


def test_random_state_makes_fit_repeatable_and_leaves_the_global_generator_alone():
    X, y = make_regression(40, 3, random_state=0)
    cr.manual_seed(123)
    expected = cr.backend.rng().random(3)
    cr.manual_seed(123)
    first = NeuralNetRegressor(epochs=3, random_state=7).fit(X, y).predict(X)
    second = NeuralNetRegressor(epochs=3, random_state=7).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(cr.backend.rng().random(3), expected)


def test_regressor_with_several_outputs():
    X, y = make_regression(60, 4, n_targets=2, random_state=0)
    reg = NeuralNetRegressor(epochs=2, random_state=0).fit(X, y / 100)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (60, 2)


@pytest.mark.parametrize("make,match", [
    (lambda: NeuralNetClassifier(epochs=1, hidden=3), r"unexpected keyword.*\['hidden'\]"),
    (lambda: NeuralNetClassifier(lambda: Sequential([Dense(3)]), epochs=1),
     r"gives 3 outputs; NeuralNetClassifier with 2 classes needs 1 \(sigmoid\) or 2"),
    (lambda: NeuralNetClassifier(lambda: "not a model"), "must be a chainrule Model"),
    (lambda: NeuralNetClassifier(optimizer="adam", optimizer__nonsense=1), "nonsense"),
])
def test_bad_settings_are_named_at_fit(make, match):
    X, y = make_classification(20, 3, n_redundant=0, random_state=0)
    estimator = make()  # scikit-learn's rule: __init__ accepts anything, fit checks
    with pytest.raises((TypeError, ValueError), match=match):
        estimator.fit(X, y)


def test_import_chainrule_does_not_import_the_sklearn_module():
    code = "import sys, chainrule; print('chainrule.sklearn' in sys.modules, " \
           "'sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]
