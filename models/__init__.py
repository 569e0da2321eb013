"""The ML model: loading, building, batching and evaluating the mention classifier."""
