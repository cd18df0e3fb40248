package lobby_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/token"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// readmeScreenshot is the README's picture of the page. The browser test
// refreshes it when UPDATE_SCREENSHOT=1 (task screenshot), and otherwise saves
// its screenshot in the test's temporary folder, so that running the tests
// leaves the tree clean.
var readmeScreenshot = filepath.Join("..", "..", "docs", "lobby.png")

func TestPageAndItsFilesAreServed(t *testing.T) {
	n := gt.Start(t, gt.Config())
	for _, tc := range []struct {
		path, contentType string
		code              int
	}{
		{"/", "text/html", http.StatusOK},
		{"/lobby/lobby.css", "text/css", http.StatusOK},
		{"/lobby/js/main.js", "text/javascript", http.StatusOK},
		{"/lobby/icon.svg", "image/svg+xml", http.StatusOK},
		{"/lobby/js/", "application/json", http.StatusNotFound}, // no directory listings
		{"/lobby/../go.mod", "application/json", http.StatusNotFound},
	} {
		res, err := http.Get(n.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.code || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType) {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.code, tc.contentType)
		}
		if tc.path == "/" && !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET /: Content-Security-Policy %q", res.Header.Get("Content-Security-Policy"))
		}
	}
}

// With the development secret the node logs, once, an address of the page
// with a player token and one with an admin token, on the port it listens on.
func TestDevelopmentLinksAreLogged(t *testing.T) {
	cfg := gt.Config()
	cfg.Auth.JWTSecret = config.DevJWTSecret
	n := gt.Start(t, cfg)
	player, admin := devLinks(t, n)
	for link, want := range map[string]struct {
		sub   string
		admin bool
	}{player: {"alice", false}, admin: {"ops", true}} {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme != "http" || u.Host != n.Server.Addr().String() || u.Path != "/" {
			t.Errorf("link %s, want http://%s/?token=…", link, n.Server.Addr())
		}
		claims := verify(t, u.Query().Get("token"))
		if claims.Subject != want.sub || claims.HasRole("admin") != want.admin {
			t.Errorf("link %s: sub %q roles %v, want sub %q (admin %v)", link, claims.Subject, claims.Roles, want.sub, want.admin)
		}
	}
	if res, err := http.Get(player); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %v %v", player, res, err)
	} else {
		res.Body.Close()
	}
}

func TestNoDevelopmentLinksWithARealSecret(t *testing.T) {
	n := gt.Start(t, gt.Config())
	if got := n.Logs.FilterMessageSnippet("DEVELOPMENT ONLY").Len(); got != 0 {
		t.Errorf("%d development-link entries logged with a real secret", got)
	}
}

// TestLobbyInChromium drives the page in a real browser against a real node
// with the wallet simulator embedded: connect, join, receive broadcasts,
// see the balance change live, survive a restart of the node.
func TestLobbyInChromium(t *testing.T) {
	browser := startChromium(t)

	cfg := gt.Config()
	cfg.Auth.JWTSecret = config.DevJWTSecret                    // so that the node logs the links the test opens
	cfg.HTTP.Addr = "127.0.0.1:" + strconv.Itoa(gt.FreePort(t)) // fixed: the node restarts on it
	cfg.Wallet.Simulator, cfg.Wallet.Port = true, gt.FreePort(t)
	n := gt.Start(t, cfg)
	playerLink, adminLink := devLinks(t, n)
	adminToken := must(url.Parse(adminLink)).Query().Get("token")
	initial := strconv.FormatInt(cfg.Wallet.Simulated.InitialBalance, 10)

	ctx, cancel := context.WithTimeout(browser, 45*time.Second)
	defer cancel()
	page := newTab(t, ctx)

	// The admin link connects by itself and asks for the balance.
	do(t, page, "open the admin link", chromedp.Navigate(adminLink),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"]`)),
		chromedp.WaitVisible(chromedp.ID("broadcast")))
	waitFor(t, page, "the balance", `document.getElementById('balance').dataset.balance === `+strconv.Quote(initial))

	do(t, page, "join lobby", chromedp.SendKeys(chromedp.ID("room"), "lobby"), chromedp.Click(chromedp.CSS("#join-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room="lobby"][data-state="joined"]`)))
	do(t, page, "join a bad room", chromedp.SendKeys(chromedp.ID("room"), "no spaces here"), chromedp.Click(chromedp.CSS("#join-form button")))
	waitForText(t, page, "problems", "roomId must be 1 to 128 characters")

	// REST from Go: a broadcast whose message names its room, and a message
	// to the user, which names none.
	post(t, n.URL+"/notifications/broadcast", adminToken,
		`{"roomId":"lobby","message":{"text":"Round 12 starts in 30 seconds","roomId":"lobby","from":"game-server"}}`)
	waitForText(t, page, "feed", "Round 12 starts in 30 seconds")
	post(t, n.URL+"/notifications/users/ops", adminToken, `{"message":{"text":"Welcome back! Your daily bonus is ready."}}`)
	waitForText(t, page, "feed", "room not stated")

	// The page's own broadcast form.
	do(t, page, "broadcast from the page", chromedp.SetValue(chromedp.ID("broadcast-room"), "lobby"),
		chromedp.SendKeys(chromedp.ID("broadcast-text"), "gg, well played"),
		chromedp.Click(chromedp.CSS(`#broadcast-form button[type="submit"]`)))
	waitForText(t, page, "feed", "gg, well played")

	// A player's link: connected, and no admin form.
	player := newTab(t, ctx)
	do(t, player, "open the player link", chromedp.Navigate(playerLink),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"]`)))
	if hidden := run(t, player, chromedp.Evaluate[bool](`document.getElementById('broadcast').hidden`)); !hidden {
		t.Error("a player sees the admin broadcast form")
	}
	do(t, player, "join and leave a room", chromedp.SendKeys(chromedp.ID("room"), "practice"),
		chromedp.Click(chromedp.CSS("#join-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room="practice"][data-state="joined"]`)),
		chromedp.Click(chromedp.CSS(`#rooms [data-room="practice"] button`)))
	waitFor(t, player, "leftRoom", `document.querySelector('#rooms [data-room="practice"]') === null`)
	// A token the gateway refuses: the page says why and stops retrying.
	do(t, player, "open the page with a bad token", chromedp.Navigate(n.URL+"/?token=not-a-jwt"),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="refused"]`)))
	waitForText(t, player, "status", "401 malformed token")

	// The node goes away: the page says so, and comes back with its rooms
	// once the node is up again on the same port.
	n.Stop(t)
	waitFor(t, page, "the drop", `document.getElementById('status').dataset.state === 'reconnecting'`)
	n = gt.Start(t, cfg)
	do(t, page, "reconnect", chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"][data-drops="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room="lobby"][data-state="joined"]`)))
	waitForText(t, page, "drops", "code 1001")
	waitForText(t, page, "status", "new session (unknown session)") // the restarted node's memory is new
	post(t, n.URL+"/notifications/broadcast", adminToken,
		`{"roomId":"lobby","message":{"text":"Round 13: the lobby is open again","roomId":"lobby","from":"game-server"}}`)
	waitForText(t, page, "feed", "Round 13: the lobby is open again")

	// The simulator's dev endpoint moves money; balanceUpdated shows it.
	waitFor(t, page, "the balance after the restart", `document.getElementById('balance').dataset.balance === `+strconv.Quote(initial))
	do(t, page, "simulate a deposit", chromedp.WaitVisible(chromedp.ID("deposit-button")), chromedp.Click(chromedp.ID("deposit-button")))
	waitFor(t, page, "the new balance", `document.getElementById('balance').dataset.balance === `+
		strconv.Quote(strconv.FormatInt(cfg.Wallet.Simulated.InitialBalance+500, 10)))

	waitFor(t, page, "the animations to end", `document.getAnimations().length === 0`)
	png := run(t, page, chromedp.FullScreenshot(100))
	screenshot := filepath.Join(t.TempDir(), "lobby.png")
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		screenshot = readmeScreenshot
	}
	if err := os.WriteFile(screenshot, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The network drops under the page while the node stays up: the page
// reconnects with its session id and last offset, says its session was
// recovered, and shows the notifications sent while it was away.
func TestLobbyRecoversItsSessionInChromium(t *testing.T) {
	browser := startChromium(t)
	cfg := gt.Config()
	n := gt.Start(t, cfg)
	link := cutter(t, n.Server.Addr().String())
	admin := gt.Token(t, "ops", "admin")

	ctx, cancel := context.WithTimeout(browser, 45*time.Second)
	defer cancel()
	page := newTab(t, ctx)
	do(t, page, "open the page", chromedp.Navigate(link.url+"/?token="+gt.Token(t, "alice")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"]`)),
		chromedp.SendKeys(chromedp.ID("room"), "lobby"), chromedp.Click(chromedp.CSS("#join-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room="lobby"][data-state="joined"]`)))
	post(t, n.URL+"/notifications/broadcast", admin, `{"roomId":"lobby","message":{"text":"Before the tunnel","roomId":"lobby"}}`)
	waitForText(t, page, "feed", "Before the tunnel")

	link.cut() // the train enters a tunnel
	waitFor(t, page, "the drop", `document.getElementById('status').dataset.state === 'reconnecting'`)
	post(t, n.URL+"/notifications/broadcast", admin, `{"roomId":"lobby","message":{"text":"Missed in the tunnel","roomId":"lobby"}}`)
	post(t, n.URL+"/notifications/users/alice", admin, `{"message":{"text":"A message for you alone"}}`)
	link.restore()

	do(t, page, "reconnect", chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"][data-recovered="true"]`)))
	waitForText(t, page, "status", "session recovered")
	waitForText(t, page, "feed", "Missed in the tunnel")
	waitForText(t, page, "feed", "A message for you alone")
	if state := run(t, page, chromedp.Evaluate[string](`document.querySelector('#rooms [data-room="lobby"]').dataset.state`)); state != "joined" {
		t.Fatalf("lobby is %q after the recovery", state)
	}
}

// network is a TCP proxy in front of a node, standing for the network
// between the browser and it: cut drops every connection through it and
// refuses new ones until restore.
type network struct {
	url    string
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func cutter(t *testing.T, target string) *network {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &network{url: "http://" + ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		n.cut()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { n.carry(c) })
		}
	})
	return n
}

// carry joins c to a connection to the node until either side ends.
func (n *network) carry(c net.Conn) {
	n.mu.Lock()
	if n.down {
		n.mu.Unlock()
		c.Close()
		return
	}
	n.conns[c] = struct{}{}
	n.mu.Unlock()
	defer n.forget(c)
	up, err := net.Dial("tcp", n.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

func (n *network) forget(c net.Conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
	c.Close()
}

func (n *network) cut() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = true
	for c := range n.conns {
		c.Close()
	}
}

func (n *network) restore() {
	n.mu.Lock()
	n.down = false
	n.mu.Unlock()
}

// startChromium starts a headless Chromium for the test. Without one it
// skips, except in CI (CI=true), where the browser test must run.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs Chromium for the browser test: %v", err)
		}
		t.Skipf("no Chromium at %s; install it with `apt-get install -y chromium` to run the browser test", chromiumPath)
	}
	// No UserDataDir option: chromedp gives each browser a fresh temporary
	// profile and removes it once the browser has exited.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit
	})
	// The first Do starts the browser; its life is ctx's, not a test step's.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// newTab opens a tab and fails the test on any uncaught JavaScript exception
// in it.
func newTab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	do(t, ctx, "open a tab", chromedp.EmulateViewport(1280, 900))
	var mu sync.Mutex
	var thrown []string
	err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			mu.Lock()
			thrown = append(thrown, msg+" at "+d.URL+":"+strconv.FormatInt(d.LineNumber+1, 10))
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, msg := range thrown {
			t.Errorf("uncaught exception in the page: %s", msg)
		}
	})
	return ctx
}

func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, action chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor polls the page until the JavaScript expression is true.
func waitFor(t *testing.T, ctx context.Context, what, expression string) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitForText polls the page until the element with id shows text.
func waitForText(t *testing.T, ctx context.Context, id, text string) {
	t.Helper()
	waitFor(t, ctx, strconv.Quote(text)+" in #"+id,
		`document.getElementById(`+strconv.Quote(id)+`).textContent.includes(`+strconv.Quote(text)+`)`)
}

// devLinks returns the two addresses the node logged with the development
// secret.
func devLinks(t *testing.T, n *gt.Node) (player, admin string) {
	t.Helper()
	entries := n.Logs.FilterMessageSnippet("DEVELOPMENT ONLY").All()
	if len(entries) != 1 {
		t.Fatalf("%d development-link entries logged, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	player, _ = fields["player"].(string)
	admin, _ = fields["admin"].(string)
	return player, admin
}

func verify(t *testing.T, raw string) token.Claims {
	t.Helper()
	v, err := token.NewVerifier(t.Context(), token.Options{Secret: []byte(config.DevJWTSecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	claims, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("token %s: %v", raw, err)
	}
	return claims
}

func post(t *testing.T, url, tok, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
