package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
	"go.uber.org/fx"
)

// SectionGroup is the value group of the sections that modules declare
// with Section.
const SectionGroup = "config.sections"

// Section gives a module of another team its own top-level section of
// config.yaml, key, as a T in the application:
//
//	type Config struct {
//		MaxLength int `koanf:"maxLength" env:"CHAT_MAX_LENGTH" validate:"min=1,max=4096"`
//	}
//
//	var Module = fx.Module("chat", config.Section("chat", Config{MaxLength: 280}), …)
//
// T is a struct. It starts as defaults; the file's section overrides it,
// then each environment variable named by an `env` tag (a list field takes
// a comma-separated value), as for the gateway's own keys. The
// go-playground/validator `validate` tags then check it.
//
// Module checks every declared section first thing, before any other
// module is built: a key T has no field for, a value of the wrong type or
// one its tags refuse fails the application's construction with ErrInvalid
// and one line naming the key, "chat.maxLength", and the gateway exits
// with status 2. So does a top-level key that neither the gateway nor any
// module reads.
func Section[T any](key string, defaults T) fx.Option {
	return fx.Options(
		fx.Provide(func(c Config) (T, error) { return decodeSection(c, key, defaults) }),
		fx.Provide(fx.Annotate(func() Declared {
			return Declared{Key: key, check: func(c Config) error {
				_, err := decodeSection(c, key, defaults)
				return err
			}}
		}, fx.ResultTags(`group:"`+SectionGroup+`"`))),
	)
}

// Declared is a section that a module declared with Section.
type Declared struct {
	Key   string
	check func(Config) error
}

// decodeSection is T for the section key of c: defaults, the file, the
// environment, then validation.
func decodeSection[T any](c Config, key string, defaults T) (T, error) {
	typ := reflect.TypeFor[T]()
	if typ.Kind() != reflect.Struct {
		return defaults, fmt.Errorf("config.Section %q: %v is not a struct", key, typ)
	}
	k := koanf.New(".")
	if raw, ok := c.extensions[key]; ok {
		if err := k.Load(confmap.Provider(map[string]any{key: raw}, "."), nil); err != nil {
			return defaults, bad(key, "%v", err)
		}
	}
	if c.lookup != nil {
		env := map[string]any{}
		for _, f := range envFields(typ, key) {
			if v, ok := c.lookup(f.name); ok {
				if f.list {
					env[f.key] = splitList(v)
				} else {
					env[f.key] = v
				}
			}
		}
		if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
			return defaults, bad(key, "environment: %v", err)
		}
	}
	// Decoded as the one field of a struct tagged key, errors name the key
	// in full ("chat.maxLength"), as they do for the gateway's own.
	wrapper := reflect.New(reflect.StructOf([]reflect.StructField{{
		Name: "Section", Type: typ, Tag: reflect.StructTag(`koanf:"` + key + `"`),
	}}))
	section := wrapper.Elem().Field(0)
	section.Set(reflect.ValueOf(defaults))
	if err := unmarshal(k, wrapper.Interface()); err != nil {
		return defaults, err
	}
	out := section.Interface().(T)
	if err := sectionValidator.Struct(out); err != nil {
		var ve validator.ValidationErrors
		if !errors.As(err, &ve) {
			return defaults, bad(key, "%v", err)
		}
		fe := ve[0]
		_, field, _ := strings.Cut(fe.Namespace(), ".") // the first element is the type's name
		return defaults, bad(key+"."+field, "%s", refusal(fe))
	}
	return out, nil
}

// envField is a field of a section that an environment variable sets.
type envField struct {
	name, key string
	list      bool
}

// envFields lists the fields of typ, the section at key, that carry an
// `env` tag, nested structs included.
func envFields(typ reflect.Type, key string) []envField {
	var out []envField
	for f := range typ.Fields() {
		name := f.Tag.Get("koanf")
		if name == "" || !f.IsExported() {
			continue
		}
		path := key + "." + name
		if f.Type.Kind() == reflect.Struct {
			out = append(out, envFields(f.Type, path)...)
			continue
		}
		if env := f.Tag.Get("env"); env != "" {
			out = append(out, envField{name: env, key: path, list: f.Type.Kind() == reflect.Slice})
		}
	}
	return out
}

// sectionValidator checks sections by their `validate` tags and names
// fields by their keys.
var sectionValidator = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Tag.Get("koanf") })
	return v
}()

// refusal says why fe's value was refused, in the words of the gateway's
// own configuration errors.
func refusal(fe validator.FieldError) string {
	n := ""
	switch fe.Kind() {
	case reflect.String:
		n = " characters"
	case reflect.Slice, reflect.Map:
		n = " entries"
	}
	got := fmt.Sprintf("got %v", fe.Value())
	if n != "" {
		got = fmt.Sprintf("got %d", reflect.ValueOf(fe.Value()).Len())
	}
	switch fe.Tag() {
	case "required":
		return "must be set"
	case "min", "gte":
		return fmt.Sprintf("must be at least %s%s, %s", fe.Param(), n, got)
	case "max", "lte":
		return fmt.Sprintf("must be at most %s%s, %s", fe.Param(), n, got)
	case "gt":
		return fmt.Sprintf("must be more than %s%s, %s", fe.Param(), n, got)
	case "lt":
		return fmt.Sprintf("must be less than %s%s, %s", fe.Param(), n, got)
	case "oneof":
		return fmt.Sprintf("must be one of %s, got %q", strings.ReplaceAll(fe.Param(), " ", ", "), fmt.Sprint(fe.Value()))
	default:
		param := fe.Tag()
		if fe.Param() != "" {
			param += "=" + fe.Param()
		}
		return fmt.Sprintf("fails %s, got %q", param, fmt.Sprint(fe.Value()))
	}
}

// checkSections checks each declared section of c, then refuses a
// top-level key of the file that neither the gateway nor any module reads:
// most likely a typing mistake.
func checkSections(c Config, declared []Declared) error {
	slices.SortFunc(declared, func(a, b Declared) int { return strings.Compare(a.Key, b.Key) })
	for _, d := range declared {
		if err := d.check(c); err != nil {
			return err
		}
	}
	keys := slices.Sorted(maps.Keys(c.extensions))
	for _, key := range keys {
		if !slices.ContainsFunc(declared, func(d Declared) bool { return d.Key == key }) {
			return bad(key, "unknown key: neither the gateway nor any module reads this section")
		}
	}
	return nil
}
