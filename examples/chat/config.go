package chat

// Config is the chat's own section of config.yaml, with the environment
// variables that override each key:
//
//	chat:
//	  lobby: lobby          # CHAT_LOBBY
//	  maxLength: 280        # CHAT_MAX_LENGTH
//	  moderatorRole: mod    # CHAT_MODERATOR_ROLE
//
// A value its `validate` tags refuse stops the gateway's start with one
// line naming the key, and exit status 2.
type Config struct {
	// Lobby is the room every client joins as it connects.
	Lobby string `koanf:"lobby" env:"CHAT_LOBBY" validate:"required,alphanum,max=64"`
	// MaxLength bounds a message's text, in characters.
	MaxLength int `koanf:"maxLength" env:"CHAT_MAX_LENGTH" validate:"min=1,max=4096"`
	// ModeratorRole is the token role that may mute and unmute users.
	ModeratorRole string `koanf:"moderatorRole" env:"CHAT_MODERATOR_ROLE" validate:"required"`
}

// Defaults are the values of the keys that the file and the environment
// leave out.
var Defaults = Config{Lobby: "lobby", MaxLength: 280, ModeratorRole: "moderator"}
