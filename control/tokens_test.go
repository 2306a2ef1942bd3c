package control

import (
	"errors"
	"testing"
	"time"
)

func newTestSigner(versions map[uint64]uint32) *tokenSigner {
	s := &tokenSigner{}
	s.init([]byte("0123456789abcdef0123456789abcdef"), versions)
	return s
}

var tokenNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// tokenCases is shared by the unit test, the fuzz seeds and the benchmark.
var tokenCases = []struct {
	name    string
	claims  TokenClaims
	kind    TokenKind
	wantErr bool
}{
	{"access", TokenClaims{Kind: TokenKindAccess, AppID: 1, MemberID: 2, ExpiresAt: tokenNow.Add(time.Hour)}, TokenKindAccess, false},
	{"streaming", TokenClaims{Kind: TokenKindStreaming, AppID: 1 << 40, MemberID: 1<<63 + 5, Version: 3, ExpiresAt: tokenNow.Add(time.Hour)}, TokenKindStreaming, false},
	{"wrong-kind", TokenClaims{Kind: TokenKindAccess, AppID: 1, MemberID: 2, ExpiresAt: tokenNow.Add(time.Hour)}, TokenKindStreaming, true},
	{"expired", TokenClaims{Kind: TokenKindStreaming, AppID: 1, MemberID: 2, ExpiresAt: tokenNow}, TokenKindStreaming, true},
	{"revoked", TokenClaims{Kind: TokenKindStreaming, AppID: 1, MemberID: 7, Version: 1, ExpiresAt: tokenNow.Add(time.Hour)}, TokenKindStreaming, true},
	{"current", TokenClaims{Kind: TokenKindStreaming, AppID: 1, MemberID: 7, Version: 2, ExpiresAt: tokenNow.Add(time.Hour)}, TokenKindStreaming, false},
}

func TestTokens(t *testing.T) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	for _, tc := range tokenCases {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.sign(tc.claims)
			got, err := s.verify(tok, tc.kind, tokenNow)
			if (err != nil) != tc.wantErr {
				t.Fatalf("verify error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("error %v is not UNAUTHORIZED", err)
				}
				return
			}
			if got != tc.claims {
				t.Fatalf("claims = %+v, want %+v", got, tc.claims)
			}
		})
	}
}

func TestTokenForgery(t *testing.T) {
	s := newTestSigner(map[uint64]uint32{})
	other := &tokenSigner{}
	other.init([]byte("another install secret.........."), map[uint64]uint32{})
	cl := TokenClaims{Kind: TokenKindStreaming, AppID: 1, MemberID: 2, ExpiresAt: tokenNow.Add(time.Hour)}
	good := s.sign(cl)
	bad := []string{
		"", ".", "abc", good + "x", "x" + good, tamper(good), other.sign(cl),
		good[:len(good)-1], good[1:], string(make([]byte, 300)),
	}
	for _, tok := range bad {
		if _, err := s.verify(tok, TokenKindStreaming, tokenNow); err == nil {
			t.Errorf("forged token %q accepted", tok)
		}
	}
	// A revocation after issue.
	s.setVersion(2, 1)
	if _, err := s.verify(good, TokenKindStreaming, tokenNow); err == nil {
		t.Error("revoked token accepted")
	}
	s.setVersion(2, 0) // versions never go back
	if _, err := s.verify(good, TokenKindStreaming, tokenNow); err == nil {
		t.Error("version went back")
	}
}

func FuzzVerifyToken(f *testing.F) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	for _, tc := range tokenCases {
		f.Add(s.sign(tc.claims))
	}
	f.Add("AQ.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		cl, err := s.verify(tok, TokenKindStreaming, tokenNow)
		if err == nil && s.sign(cl) != tok {
			t.Fatalf("accepted a token that is not canonical: %q", tok)
		}
	})
}

func BenchmarkVerifyStreamingToken(b *testing.B) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	tok := s.sign(tokenCases[1].claims)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.verify(tok, TokenKindStreaming, tokenNow); err != nil {
			b.Fatal(err)
		}
	}
}

// tamper flips one character of the token's MAC.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) - 3
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
