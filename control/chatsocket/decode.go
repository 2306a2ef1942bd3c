package chatsocket

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
)

// maxHeaders bounds the header lines of one frame.
const maxHeaders = 64

// decodeFrames parses one WebSocket message: heart-beats (EOLs) and complete
// STOMP 1.2 frames (STOMP 1.2 "Augmented BNF"):
//
//	frame   = command EOL *( header EOL ) EOL *OCTET NULL *( EOL )
//	header  = name ":" value         (escapes \r \n \c \\; none in CONNECT)
//	EOL     = [CR] LF
//
// A message must hold whole frames: one that ends inside a frame is
// ErrFrameNotTerminated (a client sends each frame as one message, as
// @stomp/stompjs does). Bodies and header values are copied out of msg only
// as strings; Body slices alias msg.
//
// go-stomp's frame.Reader is not used for this: it allocates the declared
// content-length (up to 4 GiB) before reading a byte of the body, cannot tell
// a message that ends inside a frame from one that ends between frames, and
// accepts undefined escapes, which STOMP 1.2 says are fatal. Frames are
// go-stomp's frame.Frame values, encoded by its frame.Writer.
func decodeFrames(msg []byte) ([]*frame.Frame, error) {
	var out []*frame.Frame
	for {
		msg = skipEOLs(msg)
		if len(msg) == 0 {
			return out, nil
		}
		f, rest, err := decodeFrame(msg)
		if err != nil {
			return out, err
		}
		out = append(out, f)
		msg = rest
	}
}

// skipEOLs drops leading heart-beats.
func skipEOLs(b []byte) []byte {
	for len(b) > 0 {
		switch {
		case b[0] == '\n':
			b = b[1:]
		case b[0] == '\r' && len(b) > 1 && b[1] == '\n':
			b = b[2:]
		default:
			return b
		}
	}
	return b
}

// decodeFrame parses the frame at the start of b and returns the rest.
func decodeFrame(b []byte) (*frame.Frame, []byte, error) {
	line, b, ok := cutLine(b)
	if !ok {
		return nil, nil, ErrFrameNotTerminated
	}
	cmd := string(line)
	if !knownCommand(cmd) {
		return nil, nil, ErrInvalidFrame.WithMessage("unknown command %q", truncate(cmd))
	}
	f := frame.New(cmd)
	raw := cmd == frame.CONNECT || cmd == frame.STOMP || cmd == frame.CONNECTED
	for n := 0; ; n++ {
		if line, b, ok = cutLine(b); !ok {
			return nil, nil, ErrFrameNotTerminated
		}
		if len(line) == 0 {
			break
		}
		if n == maxHeaders {
			return nil, nil, ErrInvalidFrame.WithMessage("more than %d headers", maxHeaders)
		}
		name, value, err := parseHeader(line, raw)
		if err != nil {
			return nil, nil, err
		}
		f.Header.Add(name, value)
	}
	body, rest, err := cutBody(f, b)
	if err != nil {
		return nil, nil, err
	}
	f.Body = body
	return f, rest, nil
}

// cutLine splits the line (without its EOL) off b; ok is false without LF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest, true
}

// parseHeader splits name:value and unescapes both (unless raw).
func parseHeader(line []byte, raw bool) (string, string, error) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", "", ErrInvalidFrame.WithMessage("header line without a name and a colon")
	}
	if raw {
		return string(line[:i]), string(line[i+1:]), nil
	}
	name, err := unescape(line[:i])
	if err != nil {
		return "", "", err
	}
	value, err := unescape(line[i+1:])
	return name, value, err
}

// unescape decodes the STOMP 1.2 header escapes; any other backslash sequence
// is ErrInvalidFrame.
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		if i++; i == len(b) {
			return "", ErrInvalidFrame.WithMessage("header ends with a backslash")
		}
		switch b[i] {
		case 'r':
			sb.WriteByte('\r')
		case 'n':
			sb.WriteByte('\n')
		case 'c':
			sb.WriteByte(':')
		case '\\':
			sb.WriteByte('\\')
		default:
			return "", ErrInvalidFrame.WithMessage("undefined header escape \\%c", b[i])
		}
	}
	return sb.String(), nil
}

// cutBody takes the body of f off b: content-length bytes then NUL, or up to
// the first NUL.
func cutBody(f *frame.Frame, b []byte) (body, rest []byte, err error) {
	v, ok := f.Header.Contains(frame.ContentLength)
	if !ok {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, nil, ErrFrameNotTerminated
		}
		return b[:i], b[i+1:], nil
	}
	n, perr := strconv.ParseUint(v, 10, 31)
	if perr != nil {
		return nil, nil, ErrInvalidFrame.WithMessage("content-length %q is not a length", truncate(v))
	}
	if uint64(len(b)) <= n {
		return nil, nil, ErrFrameNotTerminated
	}
	if b[n] != 0 {
		return nil, nil, ErrInvalidFrame.WithMessage("no NUL after content-length %d bytes of body", n)
	}
	return b[:n], b[n+1:], nil
}

// knownCommand reports whether cmd is a STOMP 1.2 command.
func knownCommand(cmd string) bool {
	switch cmd {
	case frame.CONNECT, frame.STOMP, frame.SEND, frame.SUBSCRIBE, frame.UNSUBSCRIBE,
		frame.ACK, frame.NACK, frame.BEGIN, frame.COMMIT, frame.ABORT, frame.DISCONNECT,
		frame.CONNECTED, frame.MESSAGE, frame.RECEIPT, frame.ERROR:
		return true
	}
	return false
}

// truncate shortens client text quoted in error messages.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
