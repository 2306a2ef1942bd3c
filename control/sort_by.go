package control

import "fmt"

// SortBy is the order of a room list.
type SortBy string

// SortBy values. The default is SortByCreatedAtDesc.
const (
	SortByUnknown            SortBy = ""
	SortByCreatedAtAsc       SortBy = "CREATED_AT_ASC"
	SortByCreatedAtDesc      SortBy = "CREATED_AT_DESC"
	SortByLastModifiedAtAsc  SortBy = "LAST_MODIFIED_AT_ASC"
	SortByLastModifiedAtDesc SortBy = "LAST_MODIFIED_AT_DESC"
)

// String returns the API spelling of s.
func (s SortBy) String() string { return string(s) }

// ParseSortBy parses a sortBy query value; "" is SortByCreatedAtDesc.
func ParseSortBy(v string) (SortBy, error) {
	switch s := SortBy(v); s {
	case SortByUnknown:
		return SortByCreatedAtDesc, nil
	case SortByCreatedAtAsc, SortByCreatedAtDesc, SortByLastModifiedAtAsc, SortByLastModifiedAtDesc:
		return s, nil
	}
	return SortByUnknown, fmt.Errorf("unknown sortBy %q", v)
}
