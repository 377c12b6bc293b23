"""The agent's reads and writes of the API server: one place, the way the kubelet's clients are one place."""

from __future__ import annotations

import base64
import logging
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)
MERGE = "application/merge-patch+json"


class Api:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self._client = api_client

    def to_dict(self, obj: Any) -> dict[str, Any]:
        """A client model as the API's JSON (camelCase keys), which the rest of the agent reads."""
        out: dict[str, Any] = self._client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return out

    def fetch(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's or ConfigMap's data, decoded; None when it does not exist."""
        try:
            if kind == "Secret":
                secret = self.core.read_namespaced_secret(name, namespace)
                return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
            cm = self.core.read_namespaced_config_map(name, namespace)
            return dict(cm.data or {})
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def claim_volume(self, namespace: str, claim: str) -> str | None:
        try:
            pvc = self.core.read_namespaced_persistent_volume_claim(claim, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        if pvc.status is None or pvc.status.phase != "Bound":
            return None
        return str(pvc.spec.volume_name) if pvc.spec and pvc.spec.volume_name else None

    def token(self, namespace: str, service_account: str, audience: str, expiration: int) -> str:
        spec = client.V1TokenRequestSpec(audiences=[audience] if audience else [], expiration_seconds=expiration)
        body = client.AuthenticationV1TokenRequest(spec=spec)
        result = self.core.create_namespaced_service_account_token(service_account, namespace, body)
        if result.status is None:
            raise RuntimeError(f"TokenRequest for {namespace}/{service_account} returned no token")
        return str(result.status.token)

    def patch_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        """False when the pod is gone."""
        try:
            self.core.patch_namespaced_pod_status(name, namespace, {"status": status}, _content_type=MERGE)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete_pod_now(self, namespace: str, name: str, uid: str) -> None:
        """Grace 0 with the uid as precondition, as the kubelet removes a pod whose containers have all stopped."""
        body = client.V1DeleteOptions(grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid))
        try:
            self.core.delete_namespaced_pod(name, namespace, body=body)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise
