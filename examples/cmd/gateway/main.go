// Command gateway is the whole game gateway, every module of its own, plus
// the chat module: the same command line, configuration and behaviour, and
// the chat's events, routes and config section besides.
package main

import (
	"os"

	"example.com/studio/chat"
	"github.com/gamegate/gamegate/modules/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr, chat.Module))
}
