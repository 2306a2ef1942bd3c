package control

import "fmt"

// VODState is the archive state of a VideoRoom.
type VODState string

// VODState values.
const (
	VODStateUnknown         VODState = ""
	VODStateNotArchived     VODState = "NOT_ARCHIVED"
	VODStateArchiving       VODState = "ARCHIVING"
	VODStateArchived        VODState = "ARCHIVED"
	VODStateFailedArchiving VODState = "FAILED_ARCHIVING"
)

// String returns the API spelling of s.
func (s VODState) String() string { return string(s) }

// ParseVODState parses the API spelling of a VODState.
func ParseVODState(v string) (VODState, error) {
	switch s := VODState(v); s {
	case VODStateNotArchived, VODStateArchiving, VODStateArchived, VODStateFailedArchiving:
		return s, nil
	}
	return VODStateUnknown, fmt.Errorf("unknown vodState %q", v)
}
