"""Index upkeep: bringing the index in step with the graph, the on-disk bundle, its lock."""
