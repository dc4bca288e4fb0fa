"""Lambda code of the parallel-search workflow: `handlers/` wires Powertools and events to the logic here."""
