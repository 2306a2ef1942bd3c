package member

import (
	"errors"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/member/membertest"
)

func newTestSigner(versions map[uint64]uint32) *Signer {
	s := &Signer{}
	s.Init([]byte("0123456789abcdef0123456789abcdef"), versions)
	return s
}

var tokenNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// tokenCases is shared by the unit test, the fuzz seeds and the benchmark.
var tokenCases = []struct {
	name    string
	claims  Claims
	kind    TokenKind
	wantErr bool
}{
	{"access", Claims{Kind: TokenAccess, AppID: 1, MemberID: 2, ExpiresAt: tokenNow.Add(time.Hour)}, TokenAccess, false},
	{"streaming", Claims{Kind: TokenStreaming, AppID: 1 << 40, MemberID: 1<<63 + 5, Version: 3, ExpiresAt: tokenNow.Add(time.Hour)}, TokenStreaming, false},
	{"wrong-kind", Claims{Kind: TokenAccess, AppID: 1, MemberID: 2, ExpiresAt: tokenNow.Add(time.Hour)}, TokenStreaming, true},
	{"expired", Claims{Kind: TokenStreaming, AppID: 1, MemberID: 2, ExpiresAt: tokenNow}, TokenStreaming, true},
	{"revoked", Claims{Kind: TokenStreaming, AppID: 1, MemberID: 7, Version: 1, ExpiresAt: tokenNow.Add(time.Hour)}, TokenStreaming, true},
	{"current", Claims{Kind: TokenStreaming, AppID: 1, MemberID: 7, Version: 2, ExpiresAt: tokenNow.Add(time.Hour)}, TokenStreaming, false},
}

func TestTokens(t *testing.T) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	for _, tc := range tokenCases {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.Sign(tc.claims)
			got, err := s.Verify(tok, tc.kind, tokenNow)
			if (err != nil) != tc.wantErr {
				t.Fatalf("verify error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) && !errors.Is(err, ErrTokenRevoked) {
					t.Fatalf("error %v is not a token error", err)
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
	other := &Signer{}
	other.Init([]byte("another install secret.........."), map[uint64]uint32{})
	cl := Claims{Kind: TokenStreaming, AppID: 1, MemberID: 2, ExpiresAt: tokenNow.Add(time.Hour)}
	good := s.Sign(cl)
	bad := []string{
		"", ".", "abc", good + "x", "x" + good, tamper(good), other.Sign(cl),
		good[:len(good)-1], good[1:], string(make([]byte, 300)),
	}
	for _, tok := range bad {
		if _, err := s.Verify(tok, TokenStreaming, tokenNow); err == nil {
			t.Errorf("forged token %q accepted", tok)
		}
	}
	// A revocation after issue.
	s.SetVersion(2, 1)
	if _, err := s.Verify(good, TokenStreaming, tokenNow); err == nil {
		t.Error("revoked token accepted")
	}
	s.SetVersion(2, 0) // versions never go back
	if _, err := s.Verify(good, TokenStreaming, tokenNow); err == nil {
		t.Error("version went back")
	}
}

// TestTokenSpellings: a token verifies only as Sign spelled it; the spellings a
// lenient base64 decoder reads as the same bytes (trailing bits, padding, line
// breaks, the standard alphabet) are refused.
func TestTokenSpellings(t *testing.T) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	for _, tc := range tokenCases {
		if tc.wantErr {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			tok := s.Sign(tc.claims)
			if _, err := s.Verify(tok, tc.kind, tokenNow); err != nil {
				t.Fatalf("canonical token refused: %v", err)
			}
			others := membertest.Respellings(tok)
			if len(others) < 5 {
				t.Fatalf("only %d respellings of %q", len(others), tok)
			}
			for _, o := range others {
				if _, err := s.Verify(o, tc.kind, tokenNow); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("respelling %q of %q: error %v, want ErrInvalidToken", o, tok, err)
				}
			}
		})
	}
}

func FuzzVerifyToken(f *testing.F) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	for _, tc := range tokenCases {
		tok := s.Sign(tc.claims)
		f.Add(tok)
		for _, o := range membertest.Respellings(tok) {
			f.Add(o)
		}
	}
	f.Add("AQ.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		// Every accepted token is the one Sign writes for its claims.
		cl, err := s.Verify(tok, TokenStreaming, tokenNow)
		if err == nil && s.Sign(cl) != tok {
			t.Fatalf("accepted a token that is not canonical: %q", tok)
		}
	})
}

func BenchmarkVerifyStreamingToken(b *testing.B) {
	s := newTestSigner(map[uint64]uint32{7: 2})
	tok := s.Sign(tokenCases[1].claims)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok, TokenStreaming, tokenNow); err != nil {
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
