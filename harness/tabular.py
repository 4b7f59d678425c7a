"""Real models of the kinds teams deploy, fitted on pandas DataFrames, for tests and benchmarks.

Each writes `model.joblib` into a directory and returns the fitted object and the data
it was fitted on, so tests compare the server's answers with in-process ones.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

CITIES = ["NewYork_NY", "Chicago_IL", "Austin_TX", "Seattle_WA"]
COLUMNS = ["city", "year", "sqft", "beds", "baths", "lot", "pool"]


def houses(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "city": rng.choice(CITIES, rows),
            "year": rng.integers(1950, 2020, rows),
            "sqft": rng.uniform(500, 4000, rows).round(1),
            "beds": rng.integers(1, 6, rows),
            "baths": rng.choice([1.0, 1.5, 2.0, 2.5], rows),
            "lot": rng.uniform(0, 1, rows).round(3),
            "pool": rng.integers(0, 2, rows),
        }
    )


def price_band(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame.sqft + 300 * (frame.city == "NewYork_NY") > 2200, "pricey", "cheap")


def _save(model: object, model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")


def write_classifier_pipeline(model_dir: Path, trees: int = 50) -> tuple[object, pd.DataFrame]:
    """OneHotEncoder on `city`, the numbers passed through, a forest with string labels."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = houses()
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
                ),
            ),
            ("forest", RandomForestClassifier(n_estimators=trees, random_state=0)),
        ]
    ).fit(frame, price_band(frame))
    _save(model, model_dir)
    return model, frame


def write_regressor_with_missing_values(model_dir: Path) -> tuple[object, pd.DataFrame]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    frame = houses()[["year", "sqft", "lot"]]
    frame.loc[frame.index % 5 == 0, "lot"] = np.nan
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(frame, frame.sqft * 100)
    _save(model, model_dir)
    return model, frame


def write_text_classifier(model_dir: Path) -> tuple[object, list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = ["sunny and warm", "cold, wet and grey", "a bright warm day", "grey drizzle, cold wind"] * 5
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, ["nice", "grim"] * 10)
    _save(model, model_dir)
    return model, texts


def write_transformer(model_dir: Path) -> tuple[object, pd.DataFrame]:
    """A preprocessing stage on its own: it answers its transform output."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = houses()
    model = ColumnTransformer(
        [("city", OneHotEncoder(), ["city"]), ("numbers", StandardScaler(), COLUMNS[1:])]
    ).fit(frame)
    _save(model, model_dir)
    return model, frame


def write_label_encoder(model_dir: Path) -> object:
    from sklearn.preprocessing import LabelEncoder

    model = LabelEncoder().fit(["cheap", "pricey"])
    _save(model, model_dir)
    return model


class ZipModel:
    """A model that records nothing about its columns: zip codes look like numbers."""

    def __init__(self) -> None:
        from sklearn.preprocessing import OrdinalEncoder

        self.encoder = OrdinalEncoder().fit(np.array([["02134"], ["10001"]], dtype=object))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.encoder.transform(frame[["zip"]].to_numpy()).ravel() + 1.0


def write_zip_model(model_dir: Path) -> object:
    model = ZipModel()
    _save(model, model_dir)
    return model


def write_autopilot_stages(root: Path) -> tuple[object, object, object, pd.DataFrame]:
    """The three stages of an Autopilot-style inference pipeline, each in root/<stage>/:

    `features` a fitted ColumnTransformer (answers its transform), `classifier` a forest
    fitted on those features with encoded labels, `labels` the LabelEncoder that turns the
    classifier's encoded label back into the original one.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import LabelEncoder

    transformer, frame = write_transformer(root / "features")
    encoder = LabelEncoder().fit(price_band(frame))
    classifier = RandomForestClassifier(n_estimators=20, random_state=0).fit(
        transformer.transform(frame), encoder.transform(price_band(frame))
    )
    _save(classifier, root / "classifier")
    _save(encoder, root / "labels")
    return transformer, classifier, encoder, frame
