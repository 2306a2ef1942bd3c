package control

import "fmt"

// VideoRoomType is the kind of a VideoRoom. Only
// BROADCAST_RTMP has media; the WEB_RTC types are stored and listed.
type VideoRoomType string

// VideoRoomType values.
const (
	VideoRoomTypeUnknown           VideoRoomType = ""
	VideoRoomTypeBroadcastRTMP     VideoRoomType = "BROADCAST_RTMP"
	VideoRoomTypeVideoConference   VideoRoomType = "VIDEO_CONFERENCE"
	VideoRoomTypeWebinar           VideoRoomType = "WEBINAR"
	VideoRoomTypeVideoSurveillance VideoRoomType = "VIDEO_SURVEILLANCE"
)

// String returns the API spelling of t.
func (t VideoRoomType) String() string { return string(t) }

// ParseVideoRoomType parses the API spelling of a VideoRoomType.
func ParseVideoRoomType(v string) (VideoRoomType, error) {
	switch t := VideoRoomType(v); t {
	case VideoRoomTypeBroadcastRTMP, VideoRoomTypeVideoConference, VideoRoomTypeWebinar,
		VideoRoomTypeVideoSurveillance:
		return t, nil
	}
	return VideoRoomTypeUnknown, fmt.Errorf("unknown video room type %q", v)
}

// protocol is the media protocol of the type: RTMP or WEB_RTC.
func (t VideoRoomType) protocol() string {
	if t == VideoRoomTypeBroadcastRTMP {
		return "RTMP"
	}
	return "WEB_RTC"
}

// format is the video format of the type: CMAF for broadcasts, UNDEFINED otherwise.
func (t VideoRoomType) format() string {
	if t == VideoRoomTypeBroadcastRTMP {
		return "CMAF"
	}
	return "UNDEFINED"
}
