// Command gateway runs the game gateway, or mints a development token.
//
//	gateway [serve] [--config config.yaml]
//	gateway token --sub ID [--roles a,b] [--ttl 1h] [--config config.yaml]
package main

import (
	"os"

	"github.com/gamegate/gamegate/modules/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr))
}
