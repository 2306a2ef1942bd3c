package timeline

// ValidRoomUUID reports whether s is a canonical lowercase UUID (8-4-4-4-12 hex
// digits), the only form of room id the media paths accept: it is used as a
// directory name, so anything else (dots, slashes, upper case) is refused.
func ValidRoomUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
