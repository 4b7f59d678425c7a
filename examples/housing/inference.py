"""The serving side of the example: only model_fn; the container does the rest."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
