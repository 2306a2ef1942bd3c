package control

import "fmt"

// Mode is the output mode a streamer chooses with "?mode=" after the stream key
// (seed 000, SPEC §4.1). An empty query value means ModeCMAF.
type Mode string

// Mode values.
const (
	ModeUnknown  Mode = ""
	ModeCMAF     Mode = "CMAF"      // HLS (LL-HLS) + DASH
	ModeRTMP     Mode = "RTMP"      // RTMP relay only
	ModeRTMPCMAF Mode = "RTMP_CMAF" // both
)

// String returns the spelling of m.
func (m Mode) String() string { return string(m) }

// ParseMode parses a publish mode; "" is ModeCMAF.
func ParseMode(v string) (Mode, error) {
	switch m := Mode(v); m {
	case ModeUnknown:
		return ModeCMAF, nil
	case ModeCMAF, ModeRTMP, ModeRTMPCMAF:
		return m, nil
	}
	return ModeUnknown, fmt.Errorf("unknown mode %q", v)
}

// hasCMAF reports whether the mode packages CMAF (HLS and DASH).
func (m Mode) hasCMAF() bool { return m == ModeCMAF || m == ModeRTMPCMAF }

// hasRTMP reports whether the mode relays RTMP to players.
func (m Mode) hasRTMP() bool { return m == ModeRTMP || m == ModeRTMPCMAF }
