package model

import (
	"time"
)

// Role is what an API token may do.
type Role string

const (
	RoleAdmin   Role = "admin"   // everything
	RoleRead    Role = "read"    // GET only
	RoleChecker Role = "checker" // the checker fleet's routes only
)

// Token is an API token. Only a hash of its secret is stored.
type Token struct {
	Meta
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Hash      string    `json:"hash,omitempty"` // hex SHA-256 of the secret
	CreatedAt time.Time `json:"created_at"`
}

func (t *Token) ObjectKind() Kind   { return KindToken }
func (t *Token) ObjectName() string { return t.Name }

func (t *Token) Validate() error {
	if !validIdent(t.Name) {
		return invalid(KindToken, t.Name, "name", "use letters, digits, '-' and '_' (at most 63)")
	}
	switch t.Role {
	case RoleAdmin, RoleRead, RoleChecker:
	default:
		return invalid(KindToken, t.Name, "role", "%q is not admin, read or checker", t.Role)
	}
	if len(t.Hash) != 64 {
		return invalid(KindToken, t.Name, "hash", "must be a hex SHA-256")
	}
	return nil
}
