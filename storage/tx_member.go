package storage

import (
	"errors"
	"fmt"
)

// Member returns member id of app appID, or ErrNotFound (also when the member
// belongs to another app).
func (t *Tx) Member(appID, id uint64) (Member, error) {
	m, err := getCached(t, memberKind, id)
	if err != nil {
		return Member{}, err
	}
	if m.AppID != appID {
		return Member{}, fmt.Errorf("member %d of app %d: %w", id, appID, ErrNotFound)
	}
	return m, nil
}

// MemberByAppUserID returns the member of app appID with the given appUserId, or
// ErrNotFound.
func (t *Tx) MemberByAppUserID(appID uint64, appUserID string) (Member, error) {
	id, err := lookupIndex(t.bucket(bucketMembersByUser), appString(appID, appUserID),
		"member by app user id")
	if err != nil {
		return Member{}, err
	}
	return t.Member(appID, id)
}

// PutMember inserts (m.ID == 0: ID from the bucket sequence) or replaces a member
// and maintains the unique (AppID, AppUserID) index: a second member with the same
// pair yields ErrConflict. AppUserID must not be empty.
func (t *Tx) PutMember(m *Member) error {
	if m.AppUserID == "" {
		return errors.New("put member: empty appUserId")
	}
	b := t.appendBucket(bucketMembers)
	defer func() { invalidateCached(t, memberKind, m.ID) }() // after the ID is assigned
	return t.putRecord("member", b, &m.ID, m, func() error {
		old, found, err := previous[Member](b, m.ID, "member")
		if err != nil {
			return err
		}
		idx := t.bucket(bucketMembersByUser)
		newKey := appString(m.AppID, m.AppUserID)
		if err := claim(idx, newKey, m.ID, "member app user id"); err != nil {
			return err
		}
		if !found {
			return nil
		}
		return release(idx, appString(old.AppID, old.AppUserID), newKey)
	})
}
