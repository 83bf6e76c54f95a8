"""The one error tree of voice-onboarding.

::

    PipelineError                      root; the docstring is the default message
    ├── ConfigError                    bad job file, bad flag, missing credentials → exit 2
    ├── InputError                     one input file is bad → becomes a finding (has .code, .file)
    ├── LedgerError                    the durable state is unusable
    ├── LockHeld                       another run holds the batch lock → exit 75
    ├── RunInterrupted                 the run was cut short → exit 3
    │   ├── DeadlineExceeded           the await deadline passed
    │   └── CircuitOpen                the provider kept failing past the retry budget
    └── ProviderError                  a remote call failed (.status, .code, .request_id)
        ├── ProviderUnavailable        5xx, connection reset, timeout: retryable (also a ConnectionError)
        │   ├── Throttled              429 / APIGW.0308 (.retry_after seconds or None)
        │   └── AmbiguousCreate        a create may or may not have happened: reconcile, never retry
        ├── ProviderRejected           other 4xx: not retryable
        │   ├── AuthenticationFailed   401/403 from the control API
        │   ├── NotFound               the remote resource does not exist
        │   └── UploadRejected         an object store refused a PUT (expired URL, bad signature)
        └── ProviderProtocolError      an answer we cannot understand

Intermediate classes are there to be caught; leaves are there to be reported. Messages never
contain secrets or the signature part of a pre-signed URL (see ``pipeline.log.redact``).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Something went wrong in voice-onboarding."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(PipelineError):
    """The job file, a flag or the environment is wrong; nothing was sent."""


class InputError(PipelineError):
    """An input file is unusable; reported as a finding, the batch goes on."""

    def __init__(self, code: str, file: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.file = file


class LedgerError(PipelineError):
    """The ledger (durable run state) cannot be used."""


class LockHeld(PipelineError):
    """Another run holds this batch's lock; nothing was done."""


class RunInterrupted(PipelineError):
    """The run was cut short; unfinished voices stay pending."""


class DeadlineExceeded(RunInterrupted):
    """The await deadline passed before every voice reached a terminal status."""


class CircuitOpen(RunInterrupted):
    """The provider kept failing past the retry budget; the run stopped early."""


class ProviderError(PipelineError):
    """A call to the provider failed."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id


class ProviderUnavailable(ProviderError, ConnectionError):
    """The provider could not be reached or answered with a server error; retryable."""


class Throttled(ProviderUnavailable):
    """The provider throttled us (HTTP 429 or APIGW.0308); retry after a pause."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.retry_after = retry_after


# Raised when a non-idempotent create failed after the request may have reached the server
# (connection reset after sending, read timeout, 5xx, unreadable answer). Repeating it blindly
# could make a second remote job (Huawei has no idempotency key), so the retry helper skips it
# and the caller looks for the job with the list API instead. One-line docstring: it is the
# default message.
class AmbiguousCreate(ProviderUnavailable):
    """The create may or may not have happened; reconcile via the list API before creating again."""


class ProviderRejected(ProviderError):
    """The provider refused the request; retrying the same request will not help."""


class AuthenticationFailed(ProviderRejected):
    """The provider rejected our credentials or signature."""


class NotFound(ProviderRejected):
    """The remote resource does not exist."""


class UploadRejected(ProviderRejected):
    """An object store refused an upload (expired URL, signature or Content-Type mismatch)."""


class ProviderProtocolError(ProviderError):
    """The provider answered with something we cannot understand."""
