"""Evaluation of forecasts: metrics, baselines, rolling-origin backtests and plots."""
