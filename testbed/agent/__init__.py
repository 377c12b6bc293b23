"""The test bed's node agent: plays the kubelet's part for a few nodes whose pods run as real local processes.

kwok simulates every other node of the test bed; the nodes of this agent (local-cpu-0, local-gpu-0) run each
container's command as a process in a network namespace of the pod's own, with its probes run for real. Only as
much of a kubelet as the test bed's tests need; see docs/testbed.md ("Nodes whose pods are real processes").
"""
