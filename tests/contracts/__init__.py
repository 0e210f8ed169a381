"""Contract tests: one suite of cases per interface, run against every implementation.

Each module holds a base class (not collected: its name does not start with ``Test``) whose
cases use a fixture the implementation's test class provides, as haystack ships its
document-store tests. The in-memory fakes run them as unit tests; Neo4j, the encoders and the
Whisper backends as integration tests.
"""
