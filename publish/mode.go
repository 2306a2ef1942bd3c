package publish

import (
	"errors"
	"fmt"
	"strings"
)

// Mode is the output mode a publisher chooses with "?mode=" after its stream key.
// It is stored with the stream key and the room, and decides what live viewers
// get. The zero value, ModeUnknown, is not a mode; ParseMode never returns it
// without an error.
type Mode string

// Mode values.
const (
	ModeUnknown  Mode = ""
	ModeCMAF     Mode = "CMAF"      // LL-HLS + DASH
	ModeRTMP     Mode = "RTMP"      // RTMP relay only (the session is still recorded)
	ModeRTMPCMAF Mode = "RTMP_CMAF" // both
)

// ErrInvalidMode is what ParseMode returns (wrapped) for a value that names no Mode.
var ErrInvalidMode = errors.New("invalid mode")

// ParseMode is the one rule for a mode parameter: case-insensitive ("cmaf" is
// ModeCMAF), an empty value is ModeCMAF (the default), and anything else — an
// unknown name, surrounding spaces — is an error wrapping ErrInvalidMode.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return ModeCMAF, nil
	}
	if m := Mode(strings.ToUpper(s)); m.Valid() {
		return m, nil
	}
	return ModeUnknown, fmt.Errorf("%w %q: want CMAF, RTMP or RTMP_CMAF", ErrInvalidMode, s)
}

// Valid reports whether m is ModeCMAF, ModeRTMP or ModeRTMPCMAF.
func (m Mode) Valid() bool { return m == ModeCMAF || m == ModeRTMP || m == ModeRTMPCMAF }

// HasCMAF reports whether m packages CMAF (LL-HLS and DASH) for live viewers.
func (m Mode) HasCMAF() bool { return m == ModeCMAF || m == ModeRTMPCMAF }

// HasRTMP reports whether m relays RTMP to players.
func (m Mode) HasRTMP() bool { return m == ModeRTMP || m == ModeRTMPCMAF }

// String returns the spelling of m.
func (m Mode) String() string { return string(m) }
