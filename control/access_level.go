package control

import "fmt"

// AccessLevel is the audience scope of a VideoRoom (stored, not enforced).
type AccessLevel string

// AccessLevel values.
const (
	AccessLevelUnknown    AccessLevel = ""
	AccessLevelPublic     AccessLevel = "PUBLIC"
	AccessLevelApp        AccessLevel = "APP"
	AccessLevelMember     AccessLevel = "MEMBER"
	AccessLevelFriend     AccessLevel = "FRIEND"
	AccessLevelFollower   AccessLevel = "FOLLOWER"
	AccessLevelRestricted AccessLevel = "RESTRICTED"
	AccessLevelPrivate    AccessLevel = "PRIVATE"
)

// String returns the API spelling of a.
func (a AccessLevel) String() string { return string(a) }

// ParseAccessLevel parses the API spelling of an AccessLevel.
func ParseAccessLevel(v string) (AccessLevel, error) {
	switch a := AccessLevel(v); a {
	case AccessLevelPublic, AccessLevelApp, AccessLevelMember, AccessLevelFriend,
		AccessLevelFollower, AccessLevelRestricted, AccessLevelPrivate:
		return a, nil
	}
	return AccessLevelUnknown, fmt.Errorf("unknown accessLevel %q", v)
}
