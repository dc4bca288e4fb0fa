"""Lambda code of the weekly-batch workflow: `handlers/` wires Powertools and events to the logic here."""
