"""The project-managed local Neo4j server (resolved from Maven Central, started as a JVM)."""

from kg.server.manager import NEO4J_VERSION, LocalNeo4jServer, ServerConfig, ServerStatus

__all__ = ["NEO4J_VERSION", "LocalNeo4jServer", "ServerConfig", "ServerStatus"]
