package timeline

import (
	"fmt"
	"os"
	"strings"
)

// ValidFileName reports whether s can be a media file name the packager writes
// (video1_12.m4s, audio2_init0.mp4, ...): lowercase letters, digits, '_' and '.',
// at most 64 bytes, not starting with '.' and without "..", so it can never leave
// its session directory when it comes from a URL or an index file.
func ValidFileName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.Contains(s, "..")
}

// SyncDir fsyncs a directory so that the entries created or renamed in it survive
// a power loss (the files themselves are synced by their writers).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s for sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
