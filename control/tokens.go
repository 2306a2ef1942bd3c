package control

import "github.com/roomcast/roomcast/control/member"

// SignToken signs the claims cl into a member token.
func (c *Control) SignToken(cl member.Claims) string { return c.tokens.Sign(cl) }

// SetTokenVersion makes member memberID's tokens of older versions stop verifying.
// Call it after the transaction that stored the version (member.StoreVersion)
// committed.
func (c *Control) SetTokenVersion(memberID uint64, v uint32) { c.tokens.SetVersion(memberID, v) }

// verifyToken verifies a member token of kind without a store read; a refused
// token is 401 UNAUTHORIZED with the reason (invalid, expired, revoked).
func (c *Control) verifyToken(token string, kind member.TokenKind) (member.Claims, error) {
	cl, err := c.tokens.Verify(token, kind, c.now())
	if err != nil {
		return member.Claims{}, ErrUnauthorized.WithMessage("%s", err.Error())
	}
	return cl, nil
}
