// Package member holds what a member is given: signed access and streaming
// tokens (Signer, Claims) and the random secrets of stream keys (NewSecret). It
// imports storage only: the token versions live in the store's meta bucket
// (LoadVersions, StoreVersion); the control plane keeps one Signer and maps
// the verification errors to 401 answers.
//
// Ownership rules:
//   - No goroutines. A Signer is safe for concurrent use: its version map is
//     guarded by a mutex; signing and verifying read no store.
//   - Tokens are HMAC-SHA256 over a compact payload with the install secret; a
//     token of an older member version than the one in memory is revoked.
//   - Secrets and tokens are never logged.
package member
