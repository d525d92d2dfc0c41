"""Never freeze: per-block progress and cancellation of model calls, peak-memory estimates and budgets."""
