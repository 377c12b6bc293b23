//go:build tools

// Package tools pins kube-score for `make lint` (hack/kube_score_lint.py).
package tools

import (
	_ "github.com/zegl/kube-score/cmd/kube-score"
)
