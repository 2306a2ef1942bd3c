package chat

import (
	"fmt"
	"iter"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Forbidden words: how they are normalised and matched.
//
//   - Text and words are compared after NFKC normalisation and full Unicode case
//     folding (Fold): "DÜMM", "dümm", "du\u0308mm" and the full-width "ＤÜＭＭ" are
//     one word, and "STRASSE" matches "straße".
//   - A word is a run of letters, digits and combining marks. A forbidden word
//     matches whole words only: "ass" matches "Ass!" and "an ass." but not
//     "class" or "assist". A forbidden phrase ("bad word") matches the same words
//     in order with any separators between them ("bad, word", "BAD-WORD");
//     punctuation inside a forbidden word is a separator too ("f*ck" is the
//     phrase "f ck").
//   - Scripts written without spaces between words (Han, Hiragana, Katakana,
//     Thai, Lao, Khmer, Myanmar) have no word boundaries to rely on: each of their
//     characters is a word of its own in the text, and a forbidden word containing
//     any of them matches as a substring of the folded text ("色情" matches
//     "这是色情内容"). Such a word does not match across spaces or punctuation.
//   - Matching never reports where the word is and never changes the text.

// Limits of a forbidden-word list (PUT …/chat-room/forbidden-words).
const (
	// MaxForbiddenWords is the largest number of words of one chat room.
	MaxForbiddenWords = 1000
	// MaxForbiddenWordLen is the longest word or phrase, in characters as sent.
	MaxForbiddenWordLen = 50
)

// foldCasers recycles case folders (a cases.Caser must not be shared between
// goroutines).
var foldCasers = sync.Pool{New: func() any { c := cases.Fold(); return &c }}

// Fold returns s in the form forbidden words are compared in: NFKC, then full
// Unicode case folding, then NFC again (folding may decompose, e.g. "İ");
// invalid UTF-8 becomes U+FFFD. ASCII
// text takes a fast path (lower case, no allocation when already lower).
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD") // as a rune decoder sees it
	}
	c := foldCasers.Get().(*cases.Caser)
	defer foldCasers.Put(c)
	return norm.NFC.String(c.String(norm.NFKC.String(s)))
}

// noSpaceScripts are the scripts whose words are not separated by spaces.
var noSpaceScripts = []*unicode.RangeTable{
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao,
	unicode.Khmer, unicode.Myanmar,
}

// isNoSpace reports whether r belongs to a script without spaces between words.
func isNoSpace(r rune) bool {
	return r >= 0x0E00 && unicode.IsOneOf(noSpaceScripts, r)
}

// isWordRune reports whether r continues a word: letters, digits and marks.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// nextToken returns the first word of s at or after byte i as s[start:end];
// start == len(s) when there is none. A character of a no-space script is a
// word by itself.
func nextToken(s string, i int) (start, end int) {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) && !unicode.IsMark(r) || isNoSpace(r) {
			break
		}
		i += n
	}
	start = i
	if i == len(s) {
		return i, i
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	i += n
	if isNoSpace(r) {
		for i < len(s) { // its combining marks belong to it
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsMark(r) {
				break
			}
			i += n
		}
		return start, i
	}
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) || isNoSpace(r) {
			break
		}
		i += n
	}
	return start, i
}

// words splits folded text into its words.
func words(folded string) []string {
	var out []string
	for start, end := nextToken(folded, 0); start < len(folded); start, end = nextToken(folded, end) {
		out = append(out, folded[start:end])
	}
	return out
}

// NormalizeWord returns the stored form of a forbidden word: folded, and for a
// word of letters separated by spaces its words joined by one space ("  Bad,
// WORD " → "bad word"); a word containing a no-space script character is folded
// and trimmed only, and matched as a substring. substring tells which. A word
// without letters or digits is an error.
func NormalizeWord(w string) (normalized string, substring bool, err error) {
	f := Fold(w)
	tokens := words(f)
	if len(tokens) == 0 {
		return "", false, fmt.Errorf("forbidden word %q has no letters or digits", w)
	}
	if strings.IndexFunc(f, isNoSpace) >= 0 {
		return strings.Join(strings.Fields(f), " "), true, nil
	}
	return strings.Join(tokens, " "), false, nil
}

// NormalizeWords normalises a forbidden-word list (NormalizeWord) and drops
// duplicates of the normalised form, keeping the first; it checks
// MaxForbiddenWords and MaxForbiddenWordLen.
func NormalizeWords(list []string) ([]string, error) {
	if len(list) > MaxForbiddenWords {
		return nil, fmt.Errorf("more than %d forbidden words", MaxForbiddenWords)
	}
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, w := range list {
		if n := utf8.RuneCountInString(w); n == 0 || n > MaxForbiddenWordLen {
			return nil, fmt.Errorf("forbidden words must be 1..%d characters", MaxForbiddenWordLen)
		}
		n, _, err := NormalizeWord(w)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Matcher finds forbidden words in a message. It is immutable once compiled and
// safe for concurrent use. Check costs one pass over the folded message, each
// position walking at most one trie path: O(message length × the longest word),
// independent of the number of words.
type Matcher struct {
	words     *trie[string] // phrases of boundary-matched words, keyed word by word
	substr    *trie[rune]   // substring words, keyed rune by rune
	hasSubstr bool
	n         int
}

// trie is a node of a trie of forbidden words: K is a folded word (phrases) or
// a rune (substring words).
type trie[K comparable] struct {
	next map[K]*trie[K]
	word string // the forbidden word ending here ("" if none)
}

// NewMatcher compiles a list of forbidden words (normalised or not: each is
// normalised again; words NormalizeWord refuses are skipped).
func NewMatcher(list []string) *Matcher {
	m := &Matcher{words: &trie[string]{}, substr: &trie[rune]{}}
	for _, w := range list {
		n, substring, err := NormalizeWord(w)
		if err != nil {
			continue
		}
		m.n++
		if substring {
			m.hasSubstr = true
			m.substr.add(n, func(yield func(rune) bool) {
				for _, r := range n {
					if !yield(r) {
						return
					}
				}
			})
			continue
		}
		m.words.add(n, strings.SplitSeq(n, " "))
	}
	return m
}

// Len is the number of words compiled.
func (m *Matcher) Len() int { return m.n }

// add inserts word w, keyed by keys (its words, or its runes).
func (t *trie[K]) add(w string, keys iter.Seq[K]) {
	node := t
	for k := range keys {
		if node.next == nil {
			node.next = map[K]*trie[K]{}
		}
		child := node.next[k]
		if child == nil {
			child = &trie[K]{}
			node.next[k] = child
		}
		node = child
	}
	if node.word == "" {
		node.word = w
	}
}

// Check reports whether text contains a forbidden word and returns the first
// one found (in its normalised form). A nil or empty Matcher finds nothing.
func (m *Matcher) Check(text string) (word string, found bool) {
	if m == nil || m.n == 0 {
		return "", false
	}
	f := Fold(text)
	if m.words.next != nil {
		if w, ok := m.checkWords(f); ok {
			return w, true
		}
	}
	// Every substring word holds a no-space character: text without one (any
	// ASCII text) cannot contain such a word.
	if m.hasSubstr && strings.IndexFunc(f, isNoSpace) >= 0 {
		return m.checkSubstrings(f)
	}
	return "", false
}

// checkWords walks the phrase trie from every word of folded text f.
func (m *Matcher) checkWords(f string) (string, bool) {
	for start, end := nextToken(f, 0); start < len(f); start, end = nextToken(f, end) {
		node := m.words.next[f[start:end]]
		for e := end; node != nil; {
			if node.word != "" {
				return node.word, true
			}
			if node.next == nil {
				break
			}
			var s int
			s, e = nextToken(f, e)
			if s == len(f) {
				break
			}
			node = node.next[f[s:e]]
		}
	}
	return "", false
}

// checkSubstrings walks the substring trie from every rune of folded text f.
func (m *Matcher) checkSubstrings(f string) (string, bool) {
	for i := 0; i < len(f); {
		r, n := utf8.DecodeRuneInString(f[i:])
		node := m.substr.next[r]
		for j := i + n; node != nil; {
			if node.word != "" {
				return node.word, true
			}
			if node.next == nil || j == len(f) {
				break
			}
			r2, n2 := utf8.DecodeRuneInString(f[j:])
			node = node.next[r2]
			j += n2
		}
		i += n
	}
	return "", false
}
