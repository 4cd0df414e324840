//go:build tools

// Package tools pins grpcurl and its dependencies (go.mod, go.sum) for the
// reflection interop test, so `go build` gets the same grpcurl every time.
package tools

import _ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
