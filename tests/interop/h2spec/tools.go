//go:build tools

// Package tools pins h2spec and its dependencies (go.mod, go.sum) for the
// conformance test; h2spec itself has no go.mod to pin them.
package tools

import _ "github.com/summerwind/h2spec/cmd/h2spec"
