package health

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// describeVideo reads what the codec configuration of t says about the video:
// codec, profile, level and picture size (measured rates are the Meter's). It is
// the one place of this package that knows video codecs. A configuration that
// cannot be parsed leaves the fields it would fill empty.
func describeVideo(t *hub.Track) publish.VideoHealth {
	var v publish.VideoHealth
	switch c := t.Codec.(type) {
	case *codecs.H264:
		v.Codec = "H264"
		var sps h264.SPS
		if sps.Unmarshal(c.SPS) == nil {
			v.Profile, v.Level = h264Profile(&sps), h264Level(&sps)
			v.Width, v.Height = sps.Width(), sps.Height()
		}
	case *codecs.H265:
		v.Codec = "H265"
		var sps h265.SPS
		if sps.Unmarshal(c.SPS) == nil {
			ptl := sps.ProfileTierLevel
			v.Profile = h265Profiles[ptl.GeneralProfileIdc]
			// general_level_idc is 30 × the level (H.265 A.4.1)
			v.Level = fmt.Sprintf("%d.%d", ptl.GeneralLevelIdc/30, ptl.GeneralLevelIdc%30/3)
			v.Width, v.Height = sps.Width(), sps.Height()
		}
	case *codecs.AV1:
		v.Codec = "AV1"
		var sh av1.SequenceHeader
		if sh.Unmarshal(c.SequenceHeader) == nil {
			v.Profile = av1Profiles[sh.SeqProfile]
			if len(sh.SeqLevelIdx) > 0 { // seq_level_idx: (X−2)×4 + Y for level X.Y (AV1 A.3)
				v.Level = fmt.Sprintf("%d.%d", 2+sh.SeqLevelIdx[0]>>2, sh.SeqLevelIdx[0]&3)
			}
			v.Width, v.Height = sh.Width(), sh.Height()
		}
	case *codecs.VP9:
		v.Codec, v.Profile = "VP9", fmt.Sprintf("Profile %d", c.Profile)
		v.Width, v.Height = c.Width, c.Height
	default:
		v.Codec = t.FourCC
	}
	return v
}

// describeAudio reads codec, sample rate and channels of audio track t.
func describeAudio(t *hub.Track) publish.AudioHealth {
	switch c := t.Codec.(type) {
	case *codecs.MPEG4Audio:
		ch := int(c.Config.ChannelConfig)
		if ch == 7 { // channel configuration 7 is 7.1 (ISO/IEC 14496-3 1.6.3.4)
			ch = 8
		}
		return publish.AudioHealth{Codec: "AAC", SampleRate: c.Config.SampleRate, Channels: ch}
	case *codecs.Opus:
		return publish.AudioHealth{Codec: "Opus", SampleRate: 48000, Channels: c.ChannelCount}
	}
	return publish.AudioHealth{Codec: t.FourCC, SampleRate: t.ClockRate}
}

// h264Profile names profile_idc as ffprobe does (H.264 A.2).
func h264Profile(s *h264.SPS) string {
	switch s.ProfileIdc {
	case 66:
		if s.ConstraintSet1Flag {
			return "Constrained Baseline"
		}
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 100:
		return "High"
	case 110:
		return "High 10"
	case 122:
		return "High 4:2:2"
	case 244:
		return "High 4:4:4 Predictive"
	case 44:
		return "CAVLC 4:4:4"
	}
	return fmt.Sprintf("profile_idc %d", s.ProfileIdc)
}

// h264Level writes level_idc (10 × the level) as "3.1"; level 1b is level_idc 9,
// or 11 with constraint_set3 in the Baseline, Main and Extended profiles (A.3.1).
func h264Level(s *h264.SPS) string {
	if s.LevelIdc == 9 || (s.LevelIdc == 11 && s.ConstraintSet3Flag &&
		(s.ProfileIdc == 66 || s.ProfileIdc == 77 || s.ProfileIdc == 88)) {
		return "1b"
	}
	return fmt.Sprintf("%d.%d", s.LevelIdc/10, s.LevelIdc%10)
}

// h265Profiles are the general_profile_idc names (H.265 A.3).
var h265Profiles = map[uint8]string{1: "Main", 2: "Main 10", 3: "Main Still Picture", 4: "Rext"}

// av1Profiles are the seq_profile names (AV1 A.2).
var av1Profiles = map[uint8]string{0: "Main", 1: "High", 2: "Professional"}
