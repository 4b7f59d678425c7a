"""The compiled predict path: a model converted to ONNX and run by ONNX Runtime, trusted only
after it answers as scikit-learn does.

convert (which models, which options) → verify (the same answers on a verification set)
→ runtime (feeding requests to the session, or declining them) → live (a sample of
requests checked again, for good) ; `predictor` ties them to a loaded model.
"""
