//go:build tools

// Package tools pins sigs.k8s.io/prometheus-adapter, the custom metrics API server the test bed runs.
package tools

import _ "sigs.k8s.io/prometheus-adapter/cmd/adapter"
