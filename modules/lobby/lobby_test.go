package lobby_test

import (
	"context"
	"encoding/json"
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
// see the balance change live, survive a restart of the node, list the
// lobby's members.
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

	// Players join the lobby: the admin's page lists them, each with Kick.
	waitForMembers(t, page, "ops", "lobby", "ops")
	for _, player := range []string{"alice", "bob"} {
		tok, err := token.Mint([]byte(config.DevJWTSecret), player, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		n.Dial(t, tok).Join("lobby")
	}
	waitForMembers(t, page, "ops", "lobby", "alice", "bob", "ops")

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
// recovered, and shows the notifications sent while it was away, and the
// room's members as they are now, though it missed their comings and goings.
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
	carol := n.Dial(t, gt.Token(t, "carol"))
	carol.Join("lobby")
	waitForMembers(t, page, "alice", "lobby", "alice", "carol")

	link.cut() // the train enters a tunnel
	waitFor(t, page, "the drop", `document.getElementById('status').dataset.state === 'reconnecting'`)
	n.Dial(t, gt.Token(t, "dave")).Join("lobby")                       // comes and
	carol.Send("leaveRoom", map[string]string{"roomId": "lobby"}, nil) // goes, unseen
	carol.Expect("leftRoom")
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
	waitForMembers(t, page, "alice", "lobby", "alice", "dave") // asked again with roomMembers
	carol.Join("lobby")                                        // and the recovered session still watches
	waitForMembers(t, page, "alice", "lobby", "alice", "carol", "dave")
}

// Two players and an admin in one room: each page lists the others live as
// they join and leave; the admin kicks a player from the page, whose page
// says so and stays closed until asked, and who leaves the others' lists.
func TestLobbyPresenceAndKickInChromium(t *testing.T) {
	browser := startChromium(t)
	n := gt.Start(t, gt.Config())
	adminToken := gt.Token(t, "ops", "admin")

	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	ops, alice, bob := newTab(t, ctx), newTab(t, ctx), newTab(t, ctx)
	pages := map[string]context.Context{"ops": ops, "alice": alice, "bob": bob}
	// listed waits until each of the users' pages lists members in arena.
	listed := func(users []string, members ...string) {
		t.Helper()
		for _, user := range users {
			waitForMembers(t, pages[user], user, "arena", members...)
		}
	}
	all := []string{"ops", "alice", "bob"}

	openPage(t, ops, n.URL+"/?token="+adminToken)
	joinRoom(t, ops, "arena")
	listed(all[:1], "ops")
	openPage(t, alice, n.URL+"/?token="+gt.Token(t, "alice"))
	joinRoom(t, alice, "arena")
	listed(all[:2], "alice", "ops")
	openPage(t, bob, n.URL+"/?token="+gt.Token(t, "bob"))
	joinRoom(t, bob, "arena")
	listed(all, "alice", "bob", "ops")

	// Kick is offered to the admin, for everyone but themself.
	kickable := `[...document.querySelectorAll('#rooms [data-room="arena"] [data-user]')]` +
		`.filter((e) => e.querySelector('.kick')).map((e) => e.dataset.user).sort().join()`
	for user, want := range map[string]string{"ops": "alice,bob", "alice": "", "bob": ""} {
		if got := run(t, pages[user], chromedp.Evaluate[string](kickable)); got != want {
			t.Errorf("%s's page offers to kick %q, want %q", user, got, want)
		}
	}

	// Leaving, and joining again, show on the others' pages.
	do(t, bob, "bob leaves arena", chromedp.Click(chromedp.CSS(`#rooms [data-room="arena"] button[data-focus="leave"]`)))
	waitFor(t, bob, "bob's leftRoom", `document.querySelector('#rooms [data-room="arena"]') === null`)
	listed(all[:2], "alice", "ops")
	joinRoom(t, bob, "arena")
	listed(all, "alice", "bob", "ops")

	// The admin kicks bob from the page.
	do(t, ops, "kick bob", chromedp.Click(chromedp.CSS(`#rooms [data-room="arena"] [data-user="bob"] .kick`)))
	waitForText(t, ops, "kick-result", "Kicked bob")
	waitForText(t, ops, "kick-result", "1 connection closed")
	waitFor(t, bob, "bob's page to say it was kicked", `document.getElementById('status').dataset.state === 'kicked'`)
	waitForText(t, bob, "status", "Kicked: kicked from the lobby page")
	waitForText(t, bob, "ended", "code 4000 (kicked from the lobby page)")
	listed(all[:2], "alice", "ops")

	// It stays kicked: no reconnect, in the page or on the server. The page's
	// first retry would come within 500 ms; this watches four times as long.
	holds(t, bob, "bob's page stays kicked", `document.getElementById('status').dataset.state === 'kicked'`, 2*time.Second)
	var sessions struct {
		Sessions []json.RawMessage `json:"sessions"`
	}
	getJSON(t, n.URL+"/users/bob/sessions", adminToken, &sessions)
	if len(sessions.Sessions) != 0 {
		t.Fatalf("bob has %d connections after the kick: %s", len(sessions.Sessions), sessions.Sessions)
	}
	if got := run(t, ops, chromedp.Evaluate[string](membersOf("arena"))); got != "alice,ops" {
		t.Fatalf("after the kick the admin lists %q in arena", got)
	}

	// Reconnect, when bob asks: a new session, which joins arena again with
	// presence and lists everyone from joinedRoom.
	do(t, bob, "bob reconnects", chromedp.Click(chromedp.ID("reconnect")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"]`)))
	waitForText(t, bob, "status", "new session")
	if hidden := run(t, bob, chromedp.Evaluate[bool](`document.getElementById('ended').hidden`)); !hidden {
		t.Error("the kick notice is still shown after reconnecting")
	}
	listed(all, "alice", "bob", "ops")
}

// With one connection allowed per user, a second tab closes the first with
// 4002: the first must not come back, or the two would close each other in
// turn for ever.
func TestLobbyDoesNotFightForTheSessionLimitInChromium(t *testing.T) {
	browser := startChromium(t)
	cfg := gt.Config()
	cfg.Gateway.MaxSessionsPerUser = 1
	n := gt.Start(t, cfg)
	link := n.URL + "/?token=" + gt.Token(t, "alice")

	ctx, cancel := context.WithTimeout(browser, 45*time.Second)
	defer cancel()
	first, second := newTab(t, ctx), newTab(t, ctx)
	openPage(t, first, link)
	openPage(t, second, link)
	waitFor(t, first, "the first tab to stop", `document.getElementById('status').dataset.state === 'ended'`)
	waitForText(t, first, "ended", "code 4002 (session limit)")
	holds(t, second, "the second tab stays connected", `document.getElementById('status').dataset.state === 'connected'`, 2*time.Second)
	if state := run(t, first, chromedp.Evaluate[string](`document.getElementById('status').dataset.state`)); state != "ended" {
		t.Fatalf("the first tab is %q", state)
	}
}

// openPage loads the page at link and waits until it is connected.
func openPage(t *testing.T, page context.Context, link string) {
	t.Helper()
	do(t, page, "open "+link, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#status[data-state="connected"]`)))
}

// joinRoom joins room from the page's form and waits until it is joined.
func joinRoom(t *testing.T, page context.Context, room string) {
	t.Helper()
	do(t, page, "join "+room, chromedp.SendKeys(chromedp.ID("room"), room), chromedp.Click(chromedp.CSS("#join-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room=`+strconv.Quote(room)+`][data-state="joined"]`)))
}

// membersOf is a JavaScript expression: the users the page lists under room,
// sorted and comma-separated.
func membersOf(room string) string {
	return `[...document.querySelectorAll('#rooms [data-room=` + strconv.Quote(room) + `] .members [data-user]')]` +
		`.map((e) => e.dataset.user).sort().join()`
}

// waitForMembers waits until the page of user lists exactly members under
// room.
func waitForMembers(t *testing.T, page context.Context, user, room string, members ...string) {
	t.Helper()
	want := strings.Join(members, ",")
	err := chromedp.Do(page, chromedp.Poll[chromedp.Void](membersOf(room)+` === `+strconv.Quote(want),
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		got, _ := chromedp.Run(page, chromedp.Evaluate[string](membersOf(room)))
		t.Fatalf("%s's page lists %q in %s, want %q: %v", user, got, room, want, err)
	}
}

// holds checks that the JavaScript expression stays true for d: how a test
// sees that something does not happen.
func holds(t *testing.T, page context.Context, what, expression string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok := run(t, page, chromedp.Evaluate[bool](expression)); !ok {
			t.Fatalf("%s: no longer true after %v", what, d-time.Until(deadline))
		}
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

// getJSON GETs url with the bearer token and decodes its 200 answer into v.
func getJSON(t *testing.T, url, tok string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
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
