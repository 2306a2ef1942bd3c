//go:build tools

// Package seaweedfs pins the SeaweedFS release whose `weed` command the tests run as a real
// S3-compatible server (see the Makefile's weed target). It is a module of its own because
// SeaweedFS's go.mod carries a replace directive, which `go install pkg@version` refuses.
package seaweedfs

import _ "github.com/seaweedfs/seaweedfs/weed"
