package chatsocket

import "strings"

// Destinations:
//
//	/chat-rooms/{channelKey}            SUBSCRIBE: the chat room's messages and signals
//	/chat-rooms/{channelKey}/messages   SEND: a message to the chat room
//	/user/queue/errors                  SUBSCRIBE: this connection's refusals
const (
	prefixChatRooms  = "/chat-rooms/"
	suffixMessages   = "/messages"
	destErrorQueue   = "/user/queue/errors"
	maxChannelKeyLen = 64
)

// destination is a parsed destination header.
type destination struct {
	channelKey string
	messages   bool // …/messages (SEND)
	errors     bool // the error queue
}

// parseDestination parses a destination; ok is false for any other string.
func parseDestination(d string) (destination, bool) {
	if d == destErrorQueue {
		return destination{errors: true}, true
	}
	rest, ok := strings.CutPrefix(d, prefixChatRooms)
	if !ok {
		return destination{}, false
	}
	key, messages := strings.CutSuffix(rest, suffixMessages)
	if key == "" || len(key) > maxChannelKeyLen || strings.ContainsAny(key, "/?#") {
		return destination{}, false
	}
	return destination{channelKey: key, messages: messages}, true
}
