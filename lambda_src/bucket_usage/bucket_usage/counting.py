"""Per-bucket usage counts: objects and bytes per extension group, optionally per storage class.

The counts travel between scan passes in the state payload and end up as one
DynamoDB item, so their size is bounded: at most `max_extensions` distinct
groups are kept; later new extensions count in `(other)`. (Keys are listed in
lexicographic order, so which extensions are kept is deterministic.)

Shape (JSON, also the DynamoDB item's maps):
    {"extensions": {"jpg": {"objects": 3, "bytes": 1024}, ...},
     "storage_classes": {"STANDARD": {"jpg": {"objects": 2, "bytes": 800}}, ...}}   # only when by class
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from bucket_usage.errors import InvalidScanState
from bucket_usage.extensions import OTHER, extension_group

DEFAULT_MAX_EXTENSIONS = 200


def _bump(groups: dict[str, dict[str, int]], group: str, size: int) -> None:
    entry = groups.setdefault(group, {"objects": 0, "bytes": 0})
    entry["objects"] += 1
    entry["bytes"] += size


@dataclass
class UsageCounts:
    by_storage_class: bool = False
    max_extensions: int = DEFAULT_MAX_EXTENSIONS
    extensions: dict[str, dict[str, int]] = field(default_factory=dict)
    storage_classes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def add(self, key: str, size: int, storage_class: str | None, compounds: tuple[str, ...] = ()) -> None:
        group = extension_group(key, compounds)
        if group not in self.extensions and len(self.extensions) >= self.max_extensions:
            group = OTHER
        _bump(self.extensions, group, int(size))
        if self.by_storage_class:
            _bump(self.storage_classes.setdefault(storage_class or "STANDARD", {}), group, int(size))

    @property
    def objects(self) -> int:
        return sum(entry["objects"] for entry in self.extensions.values())

    @property
    def bytes(self) -> int:
        return sum(entry["bytes"] for entry in self.extensions.values())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"extensions": self.extensions}
        if self.by_storage_class:
            data["storage_classes"] = self.storage_classes
        return data

    @classmethod
    def from_json(cls, data: Any, *, by_storage_class: bool, max_extensions: int) -> "UsageCounts":
        counts = cls(by_storage_class=by_storage_class, max_extensions=max_extensions)
        if data in (None, {}):
            return counts
        if not isinstance(data, Mapping):
            raise InvalidScanState("counts must be an object")
        counts.extensions = _groups(data.get("extensions", {}), "extensions")
        if by_storage_class:
            classes = data.get("storage_classes", {})
            if not isinstance(classes, Mapping):
                raise InvalidScanState("counts.storage_classes must be an object")
            counts.storage_classes = {str(name): _groups(groups, f"storage_classes.{str(name)[:40]}") for name, groups in classes.items()}
        return counts


def _groups(raw: Any, where: str) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        raise InvalidScanState(f"counts.{where} must be an object")
    groups = {}
    for name, entry in raw.items():
        try:
            objects, size = int(entry["objects"]), int(entry["bytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidScanState(f"counts.{where}.{str(name)[:60]} needs integer objects and bytes") from exc
        if objects < 0 or size < 0:
            raise InvalidScanState(f"counts.{where}.{str(name)[:60]} must not be negative")
        groups[str(name)] = {"objects": objects, "bytes": size}
    return groups
