//go:build tools

// Package tools pins KServe's controller manager, the peer `make bench-peer` builds and runs beside the
// operator (docs/benchmarks.md, "The peer"). Nothing of KServe is committed here: go.mod and go.sum name it.
package tools

import _ "github.com/kserve/kserve/cmd/manager"
