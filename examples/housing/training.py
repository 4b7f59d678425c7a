"""A training script written the way SageMaker's scikit-learn examples write them.

Hyperparameters come as arguments with dashes; the channels and the model directory
come from the SM_* variables. It runs unchanged on AWS's scikit-learn image and on ours.
"""

import argparse
import os

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor


def read_channel(directory):
    files = sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".csv"))
    return pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--min-samples-leaf", type=int, default=3)
    parser.add_argument("--model-name", type=str, default="model")
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", type=str, default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args, _ = parser.parse_known_args()

    train = read_channel(args.train)
    print(f"{args.model_name}: training on {len(train)} rows")
    model = RandomForestRegressor(
        n_estimators=args.n_estimators, min_samples_leaf=args.min_samples_leaf, n_jobs=-1, random_state=0
    )
    model.fit(train.iloc[:, 1:].to_numpy(), train.iloc[:, 0].to_numpy())

    scored = read_channel(args.validation) if args.validation and os.path.isdir(args.validation) else train
    errors = np.abs(model.predict(scored.iloc[:, 1:].to_numpy()) - scored.iloc[:, 0].to_numpy())
    for percentile in (10, 50, 90):
        print(f"AE-at-{percentile}th-percentile: {np.percentile(errors, percentile)}")

    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    print(f"{args.model_name}: saved the model")
