package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
)

// chat is a section as another team writes it.
type chat struct {
	Room      string        `koanf:"room" env:"CHAT_ROOM" validate:"required,alphanum,max=64"`
	MaxLength int           `koanf:"maxLength" env:"CHAT_MAX_LENGTH" validate:"min=1,max=4096"`
	Cooldown  time.Duration `koanf:"cooldown" validate:"gte=0"`
	Banned    []string      `koanf:"banned" env:"CHAT_BANNED"`
	Mode      string        `koanf:"mode" validate:"oneof=open moderated"`
	Limits    struct {
		Burst int `koanf:"burst" env:"CHAT_BURST" validate:"min=1"`
	} `koanf:"limits"`
}

func chatDefaults() chat {
	c := chat{Room: "lobby", MaxLength: 280, Cooldown: time.Second, Mode: "open"}
	c.Limits.Burst = 5
	return c
}

const secret = "auth:\n  jwtSecret: s\n"

func loadSection(t *testing.T, file string, environment map[string]string) (chat, error) {
	t.Helper()
	cfg, err := Load(writeFile(t, secret+file), false, env(environment))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return decodeSection(cfg, "chat", chatDefaults())
}

func TestSectionDefaultsFileThenEnvironment(t *testing.T) {
	got, err := loadSection(t, "", nil)
	if err != nil || !sameChat(got, chatDefaults()) {
		t.Fatalf("no section: %+v %v, want the defaults", got, err)
	}

	got, err = loadSection(t, "chat:\n  room: tavern\n  cooldown: 250ms\n  banned: [spam]\n  limits:\n    burst: 9\n", nil)
	want := chatDefaults()
	want.Room, want.Cooldown, want.Banned, want.Limits.Burst = "tavern", 250*time.Millisecond, []string{"spam"}, 9
	if err != nil || !sameChat(got, want) {
		t.Fatalf("from the file: %+v %v, want %+v", got, err, want)
	}

	got, err = loadSection(t, "chat:\n  room: tavern\n  maxLength: 100\n", map[string]string{
		"CHAT_MAX_LENGTH": "500", "CHAT_BANNED": "spam, scam", "CHAT_BURST": "3",
	})
	want = chatDefaults()
	want.Room, want.MaxLength, want.Banned, want.Limits.Burst = "tavern", 500, []string{"spam", "scam"}, 3
	if err != nil || !sameChat(got, want) {
		t.Fatalf("the environment wins: %+v %v, want %+v", got, err, want)
	}
}

func sameChat(a, b chat) bool {
	return a.Room == b.Room && a.MaxLength == b.MaxLength && a.Cooldown == b.Cooldown &&
		slices.Equal(a.Banned, b.Banned) && a.Mode == b.Mode && a.Limits == b.Limits
}

// A configuration built by hand, as tests build it, has no file and no
// environment: the section is its defaults.
func TestSectionOfAHandBuiltConfig(t *testing.T) {
	got, err := decodeSection(Default(), "chat", chatDefaults())
	if err != nil || !sameChat(got, chatDefaults()) {
		t.Fatalf("%+v %v", got, err)
	}
}

// Each bad value is refused on one line that names its key in full.
func TestSectionBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		env        map[string]string
		says       string
	}{
		{"unknown key", "chat:\n  rooom: x\n", nil, "'chat' has invalid keys: rooom"},
		{"not a number", "chat:\n  maxLength: lots\n", nil, "'chat.maxLength' cannot parse value as 'int'"},
		{"not a number from the environment", "", map[string]string{"CHAT_MAX_LENGTH": "lots"}, "'chat.maxLength' cannot parse"},
		{"bad duration", "chat:\n  cooldown: soon\n", nil, "chat.cooldown"},
		{"section not a map", "chat: 5\n", nil, "chat"},
		{"under the minimum", "chat:\n  maxLength: 0\n", nil, "chat.maxLength: must be at least 1, got 0"},
		{"over the maximum", "", map[string]string{"CHAT_MAX_LENGTH": "5000"}, "chat.maxLength: must be at most 4096, got 5000"},
		{"required", "chat:\n  room: \"\"\n", nil, "chat.room: must be set"},
		{"too long", "chat:\n  room: " + strings.Repeat("r", 65) + "\n", nil, "chat.room: must be at most 64 characters, got 65"},
		{"other rule", "chat:\n  room: a-b\n", nil, `chat.room: fails alphanum, got "a-b"`},
		{"negative duration", "chat:\n  cooldown: -1s\n", nil, "chat.cooldown: must be at least 0, got -1s"},
		{"not one of", "chat:\n  mode: closed\n", nil, `chat.mode: must be one of open, moderated, got "closed"`},
		{"nested", "", map[string]string{"CHAT_BURST": "0"}, "chat.limits.burst: must be at least 1, got 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadSection(t, tc.file, tc.env)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line with %q", err, tc.says)
			}
		})
	}
}

// Through fx: the module gets its T; a bad value fails the application,
// before any other module's invoke runs, with an error from which Invalid
// takes the one line to print; so does a section nobody declared.
func TestSectionInTheApplication(t *testing.T) {
	others := 0
	build := func(file string, extra ...fx.Option) (chat, error) {
		cfg, err := Load(writeFile(t, secret+file), false, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		var got chat
		app := fx.New(fx.NopLogger, fx.Supply(cfg), Module,
			fx.Module("other", fx.Invoke(func() { others++ })),
			Section("chat", chatDefaults()), fx.Populate(&got), fx.Options(extra...))
		return got, app.Err()
	}
	if got, err := build("chat:\n  room: tavern\n"); err != nil || got.Room != "tavern" {
		t.Fatalf("%+v %v", got, err)
	}

	_, err := build("chat:\n  maxLength: 0\n")
	line, ok := Invalid(err)
	if !ok || line.Error() != "invalid configuration: chat.maxLength: must be at least 1, got 0" {
		t.Fatalf("Invalid(%v) = %v, %v", err, line, ok)
	}
	if others != 1 {
		t.Fatalf("another module's invoke ran %d times for two applications: a bad section must stop the first before it", others)
	}

	_, err = build("chat:\n  room: tavern\nchta:\n  room: x\n")
	line, ok = Invalid(err)
	if !ok || line.Error() != "invalid configuration: chta: unknown key: neither the gateway nor any module reads this section" {
		t.Fatalf("Invalid(%v) = %v, %v", err, line, ok)
	}

	// Not a configuration error: Invalid says so.
	if _, ok := Invalid(errors.New("cannot listen")); ok {
		t.Fatal("Invalid took an error that is not ErrInvalid")
	}
}
