"""Named errors of the single-flight consumer.

The consumer runs behind an SQS event source mapping, not a state machine, so these
names show up in logs, metrics and the DLQ message's `ErrorType` attribute. Which ones
are *permanent* decides what happens to the message:

* permanent (`PERMANENT_ERRORS`): retrying cannot help. The handler moves the message to
  the FIFO dead-letter queue itself (with `ErrorType`/`ErrorMessage` attributes) and
  reports it processed, so SQS does not redeliver it. Nothing is lost: the message is
  in the DLQ (its depth alarm notifies), and if that send fails the record is reported
  failed and SQS redelivers it.
* transient (everything else): the record is reported failed (`batchItemFailures`), SQS
  redelivers it after the visibility timeout, and after `maxReceiveCount` receives SQS
  moves it to the DLQ.
"""


class SingleFlightError(Exception):
    """Base class: every error this workflow raises on purpose."""


class InvalidTickMessage(SingleFlightError):
    """The message body is not a tick (`{"scheduled_time": str}`) or lacks its deduplication id."""


class ApiRejected(SingleFlightError):
    """The API answered 4xx (other than 408/429): the same request will be rejected again."""


class ApiThrottled(SingleFlightError):
    """The API answered 429 or 408, or 409 (it is still working on this Idempotency-Key): redeliver later."""


class ApiUnavailable(SingleFlightError):
    """The API answered 5xx, or the connection was refused or dropped: redeliver later."""


class ApiTimeout(SingleFlightError):
    """The API did not answer within the client timeout: redeliver later (the idempotency key
    lets the API recognise the repeated call)."""


class ApiBadAnswer(SingleFlightError):
    """The API answered 2xx with a body that is not a JSON object (a proxy's page, a truncated answer):
    the job is not known to be done, so redeliver later (the idempotency key keeps the job single)."""


class ApiNotConfigured(SingleFlightError):
    """The API endpoint is still a placeholder (see `python -m stacks.preflight`): the record fails,
    SQS redelivers it, and it ends in the DLQ after maxReceiveCount unless the endpoint is set meanwhile."""


class MessageNotHeld(SingleFlightError):
    """SQS refused to keep the message in flight for the call's length (ChangeMessageVisibility failed):
    no call is made, and SQS redelivers the message after the queue's visibility timeout."""


class MissingSetting(SingleFlightError):
    """A required environment variable is not set: the function is misconfigured."""


PERMANENT_ERRORS = (InvalidTickMessage, ApiRejected)
