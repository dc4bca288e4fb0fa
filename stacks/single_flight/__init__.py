"""single-flight: a Lambda-free EXPRESS tick feeds an SQS FIFO queue; one long API call at a time."""

from stacks.single_flight.stack import SingleFlightStack

__all__ = ["SingleFlightStack"]
