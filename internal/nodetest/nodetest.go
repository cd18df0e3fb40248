// Package nodetest lets Go tests run the Node.js programs of a package's
// testdata: the suites that need the JavaScript ecosystem's own tools, such
// as socket.io-client or the AsyncAPI parser.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Node returns the node binary, once the packages of dir are installed
// from its package-lock.json (npm ci, when dir/node_modules/probe is
// missing). Without node the test is skipped, for what it would have run,
// except under CI=true, where it fails: .ci/run installs nodejs and npm.
func Node(t testing.TB, dir, probe, what string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; .ci/run installs nodejs and npm")
		}
		t.Skip("node is not installed: apt-get install nodejs npm, to run " + what)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", probe)); err != nil {
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	return node
}
