"""Cross-cutting pieces of the project that belong to no app (metrics, …)."""
