package docs_test

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's top, this package being docs/.
const root = ".."

// The repository explains itself: nothing in it sends the reader to a file
// that a clone does not have. Every relative link of a Markdown file, and
// every relative path in Markdown text or a Go comment, resolves inside the
// tree, and a link to a file names one that exists, with the heading its
// #anchor names.
func TestNothingPointsOutsideTheRepository(t *testing.T) {
	// Spelt in two halves so that this file does not name them itself.
	outside := []string{"CONTRACT" + ".md", "../" + "shared", "shared/" + "peers"}
	checked := 0
	walkTree(t, func(path string) {
		if !textFile(path) {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		for _, o := range outside {
			if strings.Contains(string(b), o) {
				t.Errorf("%s names %s, which is not in the repository", rel, o)
			}
		}
		switch filepath.Ext(path) {
		case ".md":
			checked++
			checkMarkdown(t, path, rel, string(b))
		case ".go":
			checked++
			checkGoComments(t, path, rel, b)
		}
	})
	if checked < 100 {
		t.Fatalf("checked %d files: the walk missed the tree", checked)
	}
}

// walkTree calls fn with the path of each file of the repository, its
// dependencies (node_modules) and .git left out.
func walkTree(t *testing.T, fn func(path string)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			fn(path)
		} else if name := d.Name(); name == ".git" || name == "node_modules" {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// textFile reports whether path is one of the repository's own text files.
func textFile(path string) bool {
	switch filepath.Ext(path) {
	case ".md", ".go", ".yaml", ".yml", ".json", ".js", ".mjs", ".html", ".css", ".mod":
		return true
	}
	return filepath.Base(path) == "run" // .ci/run
}

var (
	// mdLink is an inline link or image, [text](target "title"), and
	// mdRef a reference definition, [label]: target.
	mdLink = regexp.MustCompile(`\]\(([^()\s]+)(?:\s+"[^"]*")?\)`)
	mdRef  = regexp.MustCompile(`(?m)^\s*\[[^\]]+\]:\s*(\S+)`)
	// upPath is a relative path that climbs out of its directory.
	upPath = regexp.MustCompile(`(?:^|[\s("'\x60=])((?:\.\./)+[\w.\-/]*)`)
	scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

func checkMarkdown(t *testing.T, path, rel, text string) {
	var targets []string
	for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
		targets = append(targets, m[1])
	}
	for _, m := range mdRef.FindAllStringSubmatch(text, -1) {
		targets = append(targets, m[1])
	}
	for _, target := range targets {
		if scheme.MatchString(target) {
			continue // a web address: not a file of the tree
		}
		file, anchor, _ := strings.Cut(target, "#")
		dest := path
		if file != "" {
			dest = filepath.Join(filepath.Dir(path), file)
			if !inside(dest) {
				t.Errorf("%s links to %s, outside the repository", rel, target)
				continue
			}
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s links to %s, which does not exist", rel, target)
				continue
			}
		}
		if anchor != "" && strings.HasSuffix(dest, ".md") && !hasAnchor(t, dest, anchor) {
			t.Errorf("%s links to %s: no heading of %s has the anchor #%s", rel, target, filepath.Base(dest), anchor)
		}
	}
	checkPaths(t, path, rel, text)
}

// checkGoComments applies checkPaths to the comments of a Go file.
func checkGoComments(t *testing.T, path, rel string, src []byte) {
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Errorf("%s: %v", rel, err)
		return
	}
	for _, g := range f.Comments {
		checkPaths(t, path, rel, g.Text())
	}
}

// checkPaths fails for each relative path in text that climbs out of the
// tree from the directory of path.
func checkPaths(t *testing.T, path, rel, text string) {
	for _, m := range upPath.FindAllStringSubmatch(text, -1) {
		if !inside(filepath.Join(filepath.Dir(path), m[1])) {
			t.Errorf("%s points to %s, outside the repository", rel, m[1])
		}
	}
}

// inside reports whether path, relative to this package, is in the tree.
func inside(path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// hasAnchor reports whether a heading of the Markdown file path has the
// anchor GitHub gives it.
func hasAnchor(t *testing.T, path, anchor string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	inFence := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		slug := slugOf(strings.TrimLeft(line, "#"))
		if n := seen[slug]; n > 0 {
			seen[slug] = n + 1
			slug = fmt.Sprintf("%s-%d", slug, n)
		} else {
			seen[slug] = 1
		}
		if slug == anchor {
			return true
		}
	}
	return false
}

// slugOf is GitHub's anchor for a heading: lower case, spaces to hyphens,
// and every other character but letters, numbers, hyphens and underscores
// dropped.
func slugOf(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
