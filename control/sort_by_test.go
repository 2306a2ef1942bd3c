package control

import "testing"

func TestParseSortBy(t *testing.T) {
	cases := []struct {
		in      string
		want    SortBy
		wantErr bool
	}{
		{"", SortByCreatedAtDesc, false},
		{"CREATED_AT_ASC", SortByCreatedAtAsc, false},
		{"CREATED_AT_DESC", SortByCreatedAtDesc, false},
		{"LAST_MODIFIED_AT_ASC", SortByLastModifiedAtAsc, false},
		{"LAST_MODIFIED_AT_DESC", SortByLastModifiedAtDesc, false},
		{"TITLE", SortByUnknown, true},
	}
	for _, tc := range cases {
		t.Run("in="+tc.in, func(t *testing.T) {
			got, err := ParseSortBy(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSortBy(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseSortBy(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && got.String() != string(got) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}
