"""Answers built on the fits: leaderboards, judge differences, what-if forecasts and the read-outs
(probability of preferred, similarity, SHAP)."""
