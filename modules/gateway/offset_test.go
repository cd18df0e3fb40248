package gateway

import "testing"

func TestParseOffset(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"k2x9-0", true}, {"k2x9-18446744073709551615", true}, {"A1-7", true},
		{"", false}, {"-7", false}, {"k2x9-", false}, {"k2x9", false}, {"k2x9-07", false}, {"k2x9-+7", false},
		{"k2x9-18446744073709551616", false}, {"k2-x9-7", false}, {"k2x9- 7", false}, {"é-7", false},
		{"abcdefghijklmnopqrstuvwxyz0123456-1", false}, {"k2x9-7\x00", false},
	} {
		o, err := ParseOffset(tc.in)
		if (err == nil) != tc.ok || (tc.ok && o.String() != tc.in) {
			t.Errorf("ParseOffset(%q) = %v, %v", tc.in, o, err)
		}
	}
}

// Whatever a client sends, the parser answers an offset that prints back
// to exactly what was sent, or an error.
func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"k2x9-41", "", "-", "a-0", "a-01", "a-18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOffset(s)
		if err == nil && o.String() != s {
			t.Fatalf("ParseOffset(%q) = %v, which prints %q", s, o, o.String())
		}
	})
}
