"""Lambda code of the bucket-usage workflow: `handlers/` wires Powertools and events to the logic here."""
