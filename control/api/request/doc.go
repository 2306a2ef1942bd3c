// Package request decodes and validates the bodies, paths and queries of the
// REST API: strict JSON (unknown fields at any depth, named with their path,
// repeated fields, trailing data and invalid UTF-8 are refused), the field
// limits, the room creation, callback, chat forbidden-words and mute bodies and the
// room list query. Every refusal is a control.APIError (400 INVALID_REQUEST or a more
// specific code), never a panic: these functions read untrusted bytes and are
// fuzzed.
//
// No goroutines and no state; request bodies are read through the limits the
// API server and HTTPGuard put in front of them.
package request
