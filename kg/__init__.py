"""Knowledge graph layer: the graph model, Neo4j access, schema and the managed local server."""
