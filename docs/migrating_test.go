package docs_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Go on the migration guide is quoted from the repository as it is, so
// that the guide cannot drift from the code it shows: each go block is a
// run of lines of some Go file (indentation aside).
func TestMigrationGuideQuotesTheCode(t *testing.T) {
	guide, err := os.ReadFile("migrating-from-nestjs.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(guide), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d go blocks in the guide", len(blocks))
	}
	var sources []string
	walkTree(t, func(path string) {
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, trimLines(string(b)))
	})
	for _, b := range blocks {
		quote := trimLines(b[1])
		found := false
		for _, src := range sources {
			if strings.Contains("\n"+src, "\n"+quote) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the guide shows Go that no file of the repository has:\n%s", b[1])
		}
	}
}

// trimLines is s with each line's leading and trailing blanks removed.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
