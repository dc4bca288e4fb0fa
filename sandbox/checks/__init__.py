"""The reliability suite's checks: properties every synthesized template must have (`properties`), and the
well-kept outside checkers run over the same templates (`tools`). They read cloud assemblies only, so any
workflow `app.py` builds, a forked one included, is checked without being named anywhere."""

from sandbox.checks.properties import PROPERTY_CHECKS, Violation
from sandbox.checks.templates import StateMachine, Template, state_machines, templates_of

__all__ = ["PROPERTY_CHECKS", "StateMachine", "Template", "Violation", "state_machines", "templates_of"]
