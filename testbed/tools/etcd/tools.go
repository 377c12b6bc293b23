//go:build tools

// Package tools pins etcd; the module root of go.etcd.io/etcd/server/v3 is etcd's main package.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
