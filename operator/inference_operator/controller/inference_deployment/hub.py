"""Asking the Hugging Face Hub (or the operator's mirror, INFOP_HF_ENDPOINT) which commit a revision is. I/O only;
what the answer means is revision.py's. Anonymous on purpose: the operator reads no Secrets."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .revision import HubAnswer, HubReply, needs_refs

# Per request; at most two per resolve (the revision, then the model's refs), once per spec.model.revision.
TIMEOUT_SECONDS = 5.0
# The body of the revision's answer is the model's metadata (its file list): a generous cap.
MAX_BODY_BYTES = 8 << 20


@dataclass(frozen=True)
class HubClient:
    """The endpoint the revisions are resolved against (the one the download Jobs use)."""

    endpoint: str
    timeout: float = TIMEOUT_SECONDS

    def revision(self, model: str, revision: str) -> HubReply:
        """GET /api/models/{model}/revision/{revision} (huggingface_hub v1.28.0, hf_api.py: model_info), and the
        model's refs where that answer leaves open what is missing."""
        answer = self._get(f"/api/models/{model}/revision/{urllib.parse.quote(revision, safe='')}")
        return HubReply(answer, self._get(f"/api/models/{model}/refs") if needs_refs(answer) else None)

    def _get(self, path: str) -> HubAnswer:
        request = urllib.request.Request(self.endpoint.rstrip("/") + path, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_BODY_BYTES)
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return HubAnswer(exc.code, exc.headers.get("X-Error-Code"), detail=f"HTTP {exc.code}")
        except (OSError, ValueError) as exc:  # refused, unreachable, timed out, a malformed URL
            return HubAnswer(None, detail=str(getattr(exc, "reason", None) or exc) or type(exc).__name__)
        try:
            data = json.loads(body)
        except ValueError:
            return HubAnswer(status, detail="an answer that is not JSON")
        sha = data.get("sha") if isinstance(data, dict) else None
        return HubAnswer(status, sha=sha if isinstance(sha, str) else None)
