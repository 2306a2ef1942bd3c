package chat

import (
	"fmt"
	"strings"
	"testing"
)

// matchCases is the case table of the matcher, reused by the fuzz seeds.
var matchCases = []struct {
	name  string
	words []string
	text  string
	want  string // the word found, "" for none
}{
	{"empty list", nil, "anything at all", ""},
	{"empty text", []string{"spam"}, "", ""},
	{"exact", []string{"spam"}, "spam", "spam"},
	{"case", []string{"Ass"}, "you ASS!", "ass"},
	{"not inside a word", []string{"Ass"}, "a class assignment", ""},
	{"not a prefix", []string{"ass"}, "assist", ""},
	{"digits are word characters", []string{"ass"}, "ass2", ""},
	{"underscore separates", []string{"ass"}, "my_ass_", "ass"},
	{"unicode case", []string{"dümm"}, "DAS IST DÜMM!", "dümm"},
	{"decomposed text", []string{"dümm"}, "du\u0308mm", "dümm"},
	{"full-width text", []string{"spam"}, "ＳＰＡＭ", "spam"},
	{"full case folding", []string{"straße"}, "STRASSE", "strasse"},
	{"greek final sigma", []string{"ΟΔΟΣ"}, "η οδος", "οδοσ"},
	{"cyrillic boundary", []string{"дурак"}, "ты дурак.", "дурак"},
	{"cyrillic inside", []string{"дурак"}, "дураками", ""},
	{"phrase", []string{"bad word"}, "a BAD, word here", "bad word"},
	{"phrase order", []string{"bad word"}, "word bad", ""},
	{"phrase needs whole words", []string{"bad word"}, "bad words", ""},
	{"phrase spaces normalised", []string{"  bad   WORD "}, "bad-word", "bad word"},
	{"punctuation in a word", []string{"f*ck"}, "F.CK this", "f ck"},
	{"shorter of two", []string{"bad word", "bad"}, "so bad", "bad"},
	{"cjk substring", []string{"色情"}, "这是色情内容", "色情"},
	{"cjk not across punctuation", []string{"色情"}, "色,情", ""},
	{"japanese", []string{"バカ"}, "お前はバカだ", "バカ"},
	{"thai", []string{"โง่"}, "คุณโง่มาก", "โง่"},
	{"latin next to cjk", []string{"ass"}, "中ass中", "ass"},
	{"hangul has spaces", []string{"바보"}, "너 바보야", ""},
	{"hangul word", []string{"바보"}, "너 바보 야", "바보"},
	{"emoji around", []string{"spam"}, "🎉spam🎉", "spam"},
	{"one of many", []string{"alpha", "beta", "gamma"}, "x y gamma", "gamma"},
}

func TestMatcher(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMatcher(tc.words)
			got, found := m.Check(tc.text)
			if got != tc.want || found != (tc.want != "") {
				t.Fatalf("Check(%q) with %q = %q, %v; want %q", tc.text, tc.words, got, found, tc.want)
			}
			if ref, ok := naiveCheck(tc.words, tc.text); ok != found || (found && !ref[got]) {
				t.Fatalf("reference found %v (%v), matcher %q %v", ok, ref, got, found)
			}
		})
	}
	var nilMatcher *Matcher
	if _, found := nilMatcher.Check("spam"); found {
		t.Fatal("nil matcher found a word")
	}
}

func TestNormalizeWords(t *testing.T) {
	t.Parallel()
	got, err := NormalizeWords([]string{"Spam", "SPAM", " spam ", "Bad  Word", "色情", "ＳＰＡＭ"})
	if err != nil || strings.Join(got, "|") != "spam|bad word|色情" {
		t.Fatalf("NormalizeWords = %q, %v", got, err)
	}
	for _, bad := range [][]string{
		{""}, {"!!!"}, {strings.Repeat("a", MaxForbiddenWordLen+1)}, make([]string, MaxForbiddenWords+1),
	} {
		if _, err := NormalizeWords(bad); err == nil {
			t.Errorf("NormalizeWords(%.40q) accepted", bad)
		}
	}
	if _, err := NormalizeWords([]string{strings.Repeat("ü", MaxForbiddenWordLen)}); err != nil {
		t.Errorf("a word of %d characters (more bytes) refused: %v", MaxForbiddenWordLen, err)
	}
}

// naiveCheck is the reference: every word against the whole text, the slow
// way (O(words × length)). It returns the set of words found.
func naiveCheck(list []string, text string) (map[string]bool, bool) {
	f := Fold(text)
	joined := " " + strings.Join(words(f), " ") + " "
	found := map[string]bool{}
	for _, w := range list {
		n, substring, err := NormalizeWord(w)
		switch {
		case err != nil:
		case substring && strings.Contains(f, n):
			found[n] = true
		case !substring && strings.Contains(joined, " "+n+" "):
			found[n] = true
		}
	}
	return found, len(found) > 0
}

// FuzzMatcher: Check never panics, agrees with the naive reference on whether a
// word is present, returns a word the reference finds, and normalising twice
// changes nothing.
func FuzzMatcher(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(strings.Join(tc.words, "\n"), tc.text)
	}
	f.Add("a\nb c\n\u0130x", "A B C İX \xff")
	f.Fuzz(func(t *testing.T, list, text string) {
		ws := strings.Split(list, "\n")
		m := NewMatcher(ws)
		got, found := m.Check(text)
		ref, ok := naiveCheck(ws, text)
		if found != ok || (found && !ref[got]) {
			t.Fatalf("words %q text %q: matcher %q %v, reference %v", ws, text, got, found, ref)
		}
		for _, w := range ws {
			n, sub, err := NormalizeWord(w)
			if err != nil {
				continue
			}
			if n2, sub2, err := NormalizeWord(n); err != nil || n2 != n || sub2 != sub {
				t.Fatalf("NormalizeWord(%q) = %q; again %q, %v", w, n, n2, err)
			}
		}
	})
}

// benchWords returns n distinct forbidden words: single words, phrases and a
// few CJK ones.
func benchWords(n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		switch i % 10 {
		case 0:
			out = append(out, fmt.Sprintf("bad%d phrase%d", i, i))
		case 1:
			out = append(out, fmt.Sprintf("禁止%d词", i))
		default:
			out = append(out, fmt.Sprintf("forbidden%dword", i))
		}
	}
	return out
}

// benchTexts are the member messages of the matcher benchmarks.
var benchTexts = []struct{ name, text string }{
	{"ascii-clean-80B", "hello everyone, this stream is great and the music is really nice today!!"},
	{"ascii-hit-end-80B", "hello everyone, this stream is great and the music is really forbidden998word"},
	{"unicode-clean-80B", "Grüße aus Köln! 这个直播很好看 — ÇA VA? Ünïcödé everywhere, merci beaucoup."},
	{"ascii-clean-2KB", strings.Repeat("hello everyone this stream is great ", 56)},
}

// BenchmarkMatcherCheck is one member message against 10 and 1 000 forbidden
// words: the cost follows the message, not the list.
func BenchmarkMatcherCheck(b *testing.B) {
	for _, n := range []int{10, 1000} {
		m := NewMatcher(benchWords(n))
		for _, bc := range benchTexts {
			b.Run(fmt.Sprintf("words=%d/%s", n, bc.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(bc.text)))
				for b.Loop() {
					m.Check(bc.text)
				}
			})
		}
	}
}

// BenchmarkNaiveCheck is the reference implementation (every word against the
// message) at 1 000 words, for comparison.
func BenchmarkNaiveCheck(b *testing.B) {
	ws := benchWords(1000)
	for _, bc := range benchTexts[:1] {
		b.Run("words=1000/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				naiveCheck(ws, bc.text)
			}
		})
	}
}

// BenchmarkMatcherCompile is compiling 1 000 words (once per list version).
func BenchmarkMatcherCompile(b *testing.B) {
	ws := benchWords(1000)
	b.ReportAllocs()
	for b.Loop() {
		NewMatcher(ws)
	}
}
