"""TensorRT-LLM over the nodes of a LeaderWorkerSet group: one MPI world per group, launched from the leader. Pure.

How a multi-node trtllm-serve runs, from NVIDIA/TensorRT-LLM (the same in both recipe rows, 1.2.x and
1.3.0rc21+; read in the stored source index, the v1.2.1 tag's own tree could not be fetched here: the repository
is over the fetch size limit):
- tensorrt_llm/llmapi/trtllm-llmapi-launch: run under an MPI launcher as `trtllm-llmapi-launch trtllm-serve ...`
  with one MPI process per GPU of the world (tensor x pipeline). It reads the rank from OMPI_COMM_WORLD_RANK (or
  Slurm's/PMI's); rank 0 starts the task (trtllm-serve, so the HTTP server is on the node of rank 0) beside
  `python3 -m tensorrt_llm.llmapi.mgmn_leader_node`, every other rank runs `mgmn_worker_node` (mpi4py's
  MPICommExecutor waiting for rank 0's work). It sets TLLM_SPAWN_PROXY_PROCESS itself.
- examples/llm-api/llm_mgmn_trtllm_serve.sh: "the number of MPI processes should be the same as the model world
  size" and the model must be a local directory every node sees ("downloading from HF is not supported").

So in a group: every pod runs an SSH server (the MPI launcher's remote agent; Open MPI's mpirun is in the release
image: docker/common/install_base.sh installs openmpi-bin where the base has no mpirun); the leader runs
`mpirun -np <world> -H <leader>:<gpus>,<worker 1>:<gpus>,...` (ranks fill the hosts in order, so rank 0 and the
API are on the leader). A pod's address follows LWS v0.7.0: LWS_LEADER_ADDRESS is
`<lws>-<group>.<subdomain>.<namespace>` (pkg/utils/pod/pod_utils.go) and worker i is `<lws>-<group>-<i>` on the
same subdomain (pkg/utils/accelerators/tpu.go). The checkpoint: the engine backend's engine is on the store
every pod mounts; the PyTorch backend's is a complete weight cache entry every pod mounts read-only (the same
path on every node: a ReadWriteMany claim), else downloaded by every pod into the same local directory first.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

from ..api.inference_deployment import InferenceDeployment
from ..api.settings import StoreSettings
from .common import MODEL_CACHE_PATH
from .multinode import GroupShape, one_pod_of, render_leader_worker_set
from .serving import render_serving_deployment
from .trtllm import CONFIG_PATH, llm_api_options, reads_weight_cache, trtllm_args, trtllm_serving
from .weight_cache import serving_model_path

SSH_PORT = 2222  # an unprivileged port: the pods run as a non-root user (common.pod_security_context)
SSH_VOLUME = "mpi-ssh"
SSH_PATH = "/etc/inference-operator/ssh"  # ssh-privatekey and authorized_keys of spec.multiNode.sshSecret
SSH_KEY_MODE = 0o400  # sshd and ssh refuse a private key others can read
LOCAL_CHECKPOINT = f"{MODEL_CACHE_PATH}/checkpoint"  # the same path on every pod of a group
LAUNCHER = "trtllm-llmapi-launch"
# The leader's mpirun fails at once when a worker's SSH server is not up yet: it waits for each this long.
WORKER_WAIT_SECONDS = 600

SSH_OPTIONS = (
    f"-p {SSH_PORT} -i {SSH_PATH}/ssh-privatekey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
    "-o LogLevel=ERROR"
)


def _sshd_line(foreground: bool) -> str:
    """An SSH server of the pod's own user, keyed by the Secret (no /etc/ssh of the image is needed)."""
    flags = (
        f"-e -p {SSH_PORT} -f /dev/null -o HostKey={SSH_PATH}/ssh-privatekey "
        f"-o AuthorizedKeysFile={SSH_PATH}/authorized_keys -o PidFile=none -o StrictModes=no -o UsePAM=no "
        "-o PermitUserEnvironment=no"
    )
    return f'exec "$sshd" -D {flags}' if foreground else f'"$sshd" {flags}'


def _preflight() -> list[str]:
    """Fail with a one-line reason when the image cannot run an SSH server for this user."""
    return [
        "set -euo pipefail",
        'sshd="$(command -v sshd || echo /usr/sbin/sshd)"',
        '[ -x "$sshd" ] || { echo "multi-node TensorRT-LLM needs sshd in the image (docs/multi-node.md)" >&2; '
        "exit 1; }",
        'getent passwd "$(id -u)" >/dev/null || { echo "multi-node TensorRT-LLM needs an /etc/passwd entry for '
        'uid $(id -u) in the image: sshd refuses users it cannot look up (docs/multi-node.md)" >&2; exit 1; }',
    ]


def _download(infd: InferenceDeployment, weights: str | None = None) -> list[str]:
    """The PyTorch backend's checkpoint into the same local directory on every pod of the group (none with a
    weight cache entry: every pod mounts it)."""
    if not _downloads(infd, weights):
        return []
    model = shlex.quote(infd.spec.model.name)
    revision = shlex.quote(infd.spec.model.revision)
    code = (
        "import sys; from huggingface_hub import snapshot_download; "
        "snapshot_download(repo_id=sys.argv[1], revision=sys.argv[2], local_dir=sys.argv[3])"
    )
    return [f"python3 -c {shlex.quote(code)} {model} {revision} {LOCAL_CHECKPOINT}"]


def _downloads(infd: InferenceDeployment, weights: str | None = None) -> bool:
    return reads_weight_cache(infd) and not weights


def worker_script(infd: InferenceDeployment, weights: str | None = None) -> str:
    """A worker pod: its checkpoint, then its SSH server in the foreground (mpirun starts its ranks through it)."""
    return "\n".join([*_preflight(), *_download(infd, weights), _sshd_line(foreground=True)]) + "\n"


def leader_script(
    infd: InferenceDeployment, shape: GroupShape, env_names: list[str], weights: str | None = None
) -> str:
    """The leader pod: its SSH server, its checkpoint, the options YAML, then mpirun over the whole group. The
    arguments of trtllm-serve are the script's own ("$@"). `env_names`: the container's variables, handed to
    every rank (an SSH session starts with an empty environment)."""
    world = infd.spec.parallelism.tensor * infd.spec.parallelism.pipeline
    gpus = shape.gpus_per_pod
    options = llm_api_options(infd)
    forwarded = " ".join(f"-x {name}" for name in ["PATH", "LD_LIBRARY_PATH", *env_names])
    lines = [
        *_preflight(),
        _sshd_line(foreground=False),
        *_download(infd, weights),
        *([f"printf '%s\\n' {' '.join(shlex.quote(o) for o in options)} > {CONFIG_PATH}"] if options else []),
        'base="${LWS_LEADER_ADDRESS%%.*}"; domain="${LWS_LEADER_ADDRESS#*.}"',
        f'hosts="$LWS_LEADER_ADDRESS:{gpus}"',
        f"for i in $(seq 1 {shape.size - 1}); do",
        '  worker="$base-$i.$domain"',
        f"  deadline=$((SECONDS + {WORKER_WAIT_SECONDS}))",
        f'  until ssh {SSH_OPTIONS} -o ConnectTimeout=5 "$worker" true; do',
        '    [ "$SECONDS" -lt "$deadline" ] || { echo "worker $worker has no SSH server up" >&2; exit 1; }',
        "    sleep 5",
        "  done",
        f'  hosts="$hosts,$worker:{gpus}"',
        "done",
        'prefix="$(dirname "$(dirname "$(command -v mpirun)")")"',
        f'exec mpirun --prefix "$prefix" -np {world} -H "$hosts" --bind-to none '
        f'--mca plm_rsh_agent ssh --mca plm_rsh_args "{SSH_OPTIONS}" {forwarded} '
        f'{LAUNCHER} trtllm-serve "$@"',
    ]
    return "\n".join(lines) + "\n"


def _ssh_volume(secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    volume = {"name": SSH_VOLUME, "secret": {"secretName": secret, "defaultMode": SSH_KEY_MODE}}
    return volume, {"name": SSH_VOLUME, "mountPath": SSH_PATH, "readOnly": True}


def render_trtllm_leader_worker_set(
    infd: InferenceDeployment,
    shape: GroupShape,
    engine_build_name: str | None,
    store: StoreSettings,
    hub_endpoint: str | None = None,
    weights: str | None = None,
) -> dict[str, Any]:
    """The LeaderWorkerSet serving the resource with trtllm-serve over groups of nodes (needs
    spec.multiNode.sshSecret; desired.py keeps the blocker without it). `weights`: a complete weight cache entry
    every leader and worker mounts read-only (the PyTorch backend then downloads nothing)."""
    secret = infd.spec.multi_node.ssh_secret
    if secret is None:
        raise ValueError("a TensorRT-LLM group needs spec.multiNode.sshSecret")
    pod = one_pod_of(infd, shape)
    serving = trtllm_serving(pod, engine_build_name, store, weights)
    local = None
    if reads_weight_cache(infd):
        local = serving_model_path() if weights else LOCAL_CHECKPOINT
    volume, mount = _ssh_volume(secret)
    leader = dataclasses.replace(
        serving,
        args=trtllm_args(infd, engine_build_name, store, local_model=local),
        volumes=[*serving.volumes, volume],
        mounts=[*serving.mounts, mount],
    )
    deployment = render_serving_deployment(pod, leader, hub_endpoint)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env_names = [e["name"] for e in container["env"]]
    container["command"] = ["bash", "-c", leader_script(infd, shape, env_names, weights), "trtllm-serve"]
    # LeaderCreated: the leader's mpirun needs the workers' SSH servers, so they must not wait for it to be Ready.
    return render_leader_worker_set(
        infd,
        deployment,
        shape,
        worker_args=[],
        worker_command=["bash", "-c", worker_script(infd, weights)],
        startup_policy="LeaderCreated",
    )
