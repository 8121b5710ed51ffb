"""The Keras tutorial's bank-churn classifier, with only the imports changed.

10,000 bank customers, 11 features each (Geography one-hot with France dropped,
credit score, gender, age, tenure, balance, number of products, has a card, is
active, salary); the target is whether they left the bank. The tutorial splits
80/20, standardises on the training set, trains a 6-6-1 network (relu, relu,
sigmoid; "uniform" initial weights) with Adam on binary cross-entropy for 50 epochs
in batches of 10, and reaches about 86% test accuracy. Then it asks about one new
customer: France, credit score 600, male, 40 years old, tenure 3, balance 60,000,
2 products, has a card, active, salary 50,000. Will they leave?

    python examples/churn.py [path/to/Churn_Modelling.csv] [--epochs 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import chainrule as cr
from chainrule.layers import Dense
from chainrule.metrics import confusion_matrix
from chainrule.models import Sequential

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CSV = os.path.join(REPO, "..", "shared", "datasets", "Churn_Modelling.csv")

# France (so both Geography dummies 0), CreditScore 600, Male, Age 40, Tenure 3,
# Balance 60000, NumOfProducts 2, HasCrCard 1, IsActiveMember 1, EstimatedSalary 50000
NEW_CUSTOMER = [[0.0, 0, 600, 1, 40, 3, 60000, 2, 1, 1, 50000]]


def main(path: str | None = None, seed: int = 0, epochs: int = 50, verbose: int = 1) -> dict:
    """Train and test the tutorial's classifier; returns the numbers it prints."""
    cr.manual_seed(seed)
    X, y, _ = cr.datasets.load_churn(path or DEFAULT_CSV)

    # Splitting the dataset into the Training set and Test set
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

    # Feature Scaling
    sc = StandardScaler()
    X_train = sc.fit_transform(X_train)
    X_test = sc.transform(X_test)

    # Initialising the ANN
    classifier = Sequential()
    # Adding the input layer and the first hidden layer
    classifier.add(Dense(units=6, kernel_initializer="uniform", activation="relu",
                         input_dim=11))
    # Adding the second hidden layer
    classifier.add(Dense(units=6, kernel_initializer="uniform", activation="relu"))
    # Adding the output layer
    classifier.add(Dense(units=1, kernel_initializer="uniform", activation="sigmoid"))
    # Compiling the ANN
    classifier.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    # Fitting the ANN to the Training set
    history = classifier.fit(X_train, y_train, batch_size=10, epochs=epochs, verbose=verbose)

    # Predicting the Test set results
    y_pred = classifier.predict(X_test)
    y_pred = y_pred > 0.5
    cm = confusion_matrix(y_test, y_pred)
    accuracy = float(np.trace(cm) / cm.sum())

    # Predicting a single new observation
    new_prediction = classifier.predict(sc.transform(np.array(NEW_CUSTOMER)))
    probability = float(new_prediction[0, 0])
    leaves = bool(probability > 0.5)

    if verbose:
        print("Confusion matrix (rows: true stays/leaves, columns: predicted):")
        print(cm)
        print(f"Test accuracy: {accuracy:.4f}")
        print(f"New customer: probability of leaving {probability:.4f} -> "
              f"{'leaves' if leaves else 'stays'}")
    return {"confusion_matrix": cm, "accuracy": accuracy, "probability": probability,
            "leaves": leaves, "history": history.history}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=None, help="Churn_Modelling.csv")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.path, seed=args.seed, epochs=args.epochs)
