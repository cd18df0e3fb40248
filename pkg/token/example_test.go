package token_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gamegate/gamegate/pkg/token"
)

func ExampleVerifier_Verify() {
	ctx := context.Background()
	secret := []byte("a development secret")
	v, err := token.NewVerifier(ctx, token.Options{Secret: secret})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	raw, err := token.Mint(secret, "user-42", []string{"admin"}, time.Hour)
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(ctx, raw)
	fmt.Println(c.Subject, c.HasRole("admin"), err)

	_, err = v.Verify(ctx, raw+"x")
	fmt.Println(token.Message(err))
	// Output:
	// user-42 true <nil>
	// invalid signature
}
