"""What an API call can fail with, and whether time can fix it (the runtime's retry or permanent decision).

Plain exceptions, no client: the controller catches them without importing the client.
"""

from __future__ import annotations


class KubeError(Exception):
    """An API call failed. `status` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def rejected(self) -> bool:
        """The API server refuses the content itself (invalid, malformed): sending it again changes nothing."""
        if self.status in (400, 422):
            return True
        # Server-side apply reports content it cannot convert to the kind's typed form (an int32 overflow, a list
        # keyed by name with a name twice) as a 500 with these words; retrying such a body loops forever.
        return self.status == 500 and self.message.startswith(_UNCONVERTIBLE)

    @property
    def transient(self) -> bool:
        """Time can fix it: conflicts, throttling, server errors, an unreachable server."""
        return (self.status in (0, 409, 429) or self.status >= 500) and not self.rejected


_UNCONVERTIBLE = ("failed to create typed patch object", "failed to convert new object")


class NotFound(KubeError):
    pass
