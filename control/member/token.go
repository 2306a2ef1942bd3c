package member

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// Token verification errors (the control plane answers each as 401 with its
// text).
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// TokenKind tells an access token (Member API) from a streaming token (playback).
type TokenKind byte

// TokenKind values.
const (
	TokenUnknown   TokenKind = 0
	TokenAccess    TokenKind = 'a'
	TokenStreaming TokenKind = 's'
)

// Claims is what a verified token says.
type Claims struct {
	Kind      TokenKind
	AppID     uint64
	MemberID  uint64
	Version   uint32 // the member's token version at issue time
	ExpiresAt time.Time
}

// tokenFormat is the first byte of every token payload; bump it to change the layout.
const tokenFormat = 1

// maxTokenLen bounds what verify decodes (a valid token is about 75 characters).
const maxTokenLen = 256

// metaTokenVersions is the meta key holding {memberID: version} for every member whose
// tokens were rotated at least once (members absent from it are at version 0).
const metaTokenVersions = "control.tokenVersions"

// Token layout (before base64url without padding):
//
//	payload = format(1) | kind(1) | uvarint appID | uvarint memberID |
//	          uvarint version | uvarint expiry (unix seconds)
//	token   = b64(payload) "." b64(HMAC-SHA256(installSecret, payload))
//
// The MAC covers the kind, so an access token never passes as a streaming token.
type Signer struct {
	pool sync.Pool // of hash.Hash (HMAC-SHA256 keyed with the install secret)

	mu       sync.RWMutex
	versions map[uint64]uint32 // memberID → current token version (absent = 0)
}

// init keys the signer and loads the rotated versions.
func (s *Signer) Init(secret []byte, versions map[uint64]uint32) {
	key := append([]byte(nil), secret...)
	s.pool.New = func() any { return hmac.New(sha256.New, key) }
	s.versions = versions
}

// sign issues a token for claims.
func (s *Signer) Sign(cl Claims) string {
	var buf [2 + 4*binary.MaxVarintLen64]byte
	p := buf[:0]
	p = append(p, tokenFormat, byte(cl.Kind))
	p = binary.AppendUvarint(p, cl.AppID)
	p = binary.AppendUvarint(p, cl.MemberID)
	p = binary.AppendUvarint(p, uint64(cl.Version))
	p = binary.AppendUvarint(p, uint64(cl.ExpiresAt.Unix()))
	mac := s.mac(p)
	enc := base64.RawURLEncoding
	out := make([]byte, enc.EncodedLen(len(p))+1+enc.EncodedLen(len(mac)))
	enc.Encode(out, p)
	out[enc.EncodedLen(len(p))] = '.'
	enc.Encode(out[enc.EncodedLen(len(p))+1:], mac[:])
	return string(out)
}

// mac returns HMAC-SHA256(secret, p).
func (s *Signer) mac(p []byte) [sha256.Size]byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(p)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.pool.Put(h)
	return sum
}

// verify checks the MAC, the kind, the expiry and the member's token version.
// It reads no store.
func (s *Signer) Verify(token string, kind TokenKind, now time.Time) (Claims, error) {
	bad := ErrInvalidToken
	if len(token) > maxTokenLen {
		return Claims{}, bad
	}
	dot := tokenDot(token)
	if dot < 0 {
		return Claims{}, bad
	}
	enc := tokenEncoding
	var pbuf [maxTokenLen]byte
	var mbuf [maxTokenLen]byte
	pn, err := enc.Decode(pbuf[:], []byte(token[:dot]))
	if err != nil {
		return Claims{}, bad
	}
	mn, err := enc.Decode(mbuf[:], []byte(token[dot+1:]))
	if err != nil || mn != sha256.Size {
		return Claims{}, bad
	}
	want := s.mac(pbuf[:pn])
	if !hmac.Equal(want[:], mbuf[:mn]) {
		return Claims{}, bad
	}
	cl, ok := parseTokenPayload(pbuf[:pn])
	if !ok || cl.Kind != kind {
		return Claims{}, bad
	}
	if !now.Before(cl.ExpiresAt) {
		return Claims{}, ErrTokenExpired
	}
	if cl.Version < s.Version(cl.MemberID) {
		return Claims{}, ErrTokenRevoked
	}
	return cl, nil
}

// tokenEncoding decodes the segments of a token: only the spelling Sign writes
// is accepted (unused trailing bits zero, no padding). With tokenDot's alphabet
// check (the decoder skips line breaks) a token has exactly one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// tokenChars marks the bytes of base64url.
var tokenChars = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// tokenDot returns the index of the dot that joins a token's two segments, or
// -1 unless token is two base64url segments joined by one dot.
func tokenDot(token string) int {
	dot := -1
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.' && dot < 0:
			dot = i
		case !tokenChars[c]:
			return -1
		}
	}
	return dot
}

// parseTokenPayload decodes a MAC-checked payload.
func parseTokenPayload(p []byte) (Claims, bool) {
	if len(p) < 2 || p[0] != tokenFormat {
		return Claims{}, false
	}
	cl := Claims{Kind: TokenKind(p[1])}
	p = p[2:]
	var vals [4]uint64
	for i := range vals {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return Claims{}, false
		}
		vals[i], p = v, p[n:]
	}
	if len(p) != 0 || vals[2] > 1<<32-1 {
		return Claims{}, false
	}
	cl.AppID, cl.MemberID, cl.Version = vals[0], vals[1], uint32(vals[2])
	cl.ExpiresAt = time.Unix(int64(vals[3]), 0).UTC()
	return cl, true
}

// version returns the member's current token version.
func (s *Signer) Version(memberID uint64) uint32 {
	s.mu.RLock()
	v := s.versions[memberID]
	s.mu.RUnlock()
	return v
}

// setVersion records a rotation (call after the transaction that stored it commits).
func (s *Signer) SetVersion(memberID uint64, v uint32) {
	s.mu.Lock()
	if v > s.versions[memberID] {
		s.versions[memberID] = v
	}
	s.mu.Unlock()
}

// LoadVersions reads the rotated token versions kept in the meta bucket.
func LoadVersions(tx *storage.Tx) (map[uint64]uint32, error) {
	m := map[uint64]uint32{}
	raw := tx.GetMeta(metaTokenVersions)
	if raw == nil {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", metaTokenVersions, err)
	}
	return m, nil
}

// StoreVersion writes memberID's new version into the meta map inside tx.
func StoreVersion(tx *storage.Tx, memberID uint64, v uint32) error {
	m, err := LoadVersions(tx)
	if err != nil {
		return err
	}
	m[memberID] = v
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", metaTokenVersions, err)
	}
	return tx.PutMeta(metaTokenVersions, raw)
}
