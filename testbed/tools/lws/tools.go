//go:build tools

// Package tools pins the LeaderWorkerSet controller manager (sigs.k8s.io/lws/cmd), which runs multi-node groups.
package tools

import (
	_ "sigs.k8s.io/lws/cmd"
)
