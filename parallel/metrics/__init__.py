"""Distances between an actual and an artificial sample, whatever produced them:
per-column KS/TV complements, Wasserstein-1, MMD, the classifier two-sample test and the
tabular quality score. Definitions: ``docs/metrics.md``."""
