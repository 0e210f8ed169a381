"""The one exception hierarchy of SalesKG.

    SkgError
    ├── ConfigError            settings missing or invalid
    ├── Neo4jServerError       the project-managed Neo4j server cannot be resolved or started
    │   ├── JavaNotFoundError
    │   ├── PortInUseError
    │   └── ServerStartTimeout
    ├── GraphUnavailableError  Neo4j cannot be reached
    ├── GraphAuthError         Neo4j rejected the credentials
    ├── ModelError             a model is missing, corrupt or cannot be prepared
    ├── IngestError            a source file cannot be read or split
    ├── IndexNotReadyError     the search index is missing or out of step
    ├── AudioError             audio is empty, corrupt, too long or too large
    ├── BadQueryError          a question is empty or too long
    ├── AuthenticationError    no API key, or one that is unknown or revoked
    ├── PermissionDeniedError  the API key lacks the scope an operation needs
    ├── NotFoundError          no such atom, entity, answer or job (or not one the caller may see)
    ├── PayloadTooLargeError   a request body over its limit
    ├── UnsupportedMediaTypeError  a request body of a content type the operation does not take
    └── RateLimitedError       a caller sent more requests than its rate limit allows

Each carries a message for people (Chinese for reps where it reaches them). HTTP status codes
are assigned only in ``api/``.
"""


class SkgError(Exception):
    """Root of every error SalesKG raises on purpose."""


class ConfigError(SkgError):
    """Settings are missing or invalid."""


class Neo4jServerError(SkgError):
    """The project-managed Neo4j server cannot be resolved, configured or started."""


class JavaNotFoundError(Neo4jServerError):
    """No Java 17 or 21 runtime was found for Neo4j 5.26."""


class PortInUseError(Neo4jServerError):
    """A port Neo4j needs is taken by another process."""


class ServerStartTimeout(Neo4jServerError):
    """Neo4j did not become ready within the timeout."""


class GraphUnavailableError(SkgError):
    """Neo4j cannot be reached."""


class GraphAuthError(SkgError):
    """Neo4j rejected the user name or password."""


class ModelError(SkgError):
    """A model is missing, corrupt or cannot be prepared."""


class IngestError(SkgError):
    """A source file cannot be read or split into atoms."""


class IndexNotReadyError(SkgError):
    """The search index is missing or does not match the graph."""


class AudioError(SkgError):
    """Audio is empty, silent, corrupt, too long or too large."""


class BadQueryError(SkgError):
    """A question is empty or too long."""


class AuthenticationError(SkgError):
    """No API key was given, or it is unknown or revoked."""


class PermissionDeniedError(SkgError):
    """The API key lacks the scope the operation needs."""


class NotFoundError(SkgError):
    """No such atom, entity, answer or job, or none the caller may see."""


class PayloadTooLargeError(SkgError):
    """A request body is over its limit."""


class UnsupportedMediaTypeError(SkgError):
    """A request body is of a content type the operation does not accept."""


class RateLimitedError(SkgError):
    """A caller sent more requests than its rate limit allows; retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
