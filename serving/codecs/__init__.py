"""Request bodies to model inputs and predictions to response bodies: one codec per content type."""
