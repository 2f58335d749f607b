"""Fraud scoring: simulator, online features, LightGBM model, training and backtest.

The offline core of the risk engine. One feature code path serves both the backtest
and live scoring: `features.InMemoryFeatureStore` keeps incrementally updated
aggregates per customer and terminal, and `features.FeatureExtractor` turns a
transaction plus the store's state into a NumPy feature row that `model.RiskModel`
scores with the LightGBM booster directly.
"""
