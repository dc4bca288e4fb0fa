"""Lambda code of the single-flight workflow: `handlers/` wires Powertools and events to the logic here."""
