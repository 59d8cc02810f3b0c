package model

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("1s",
// "500ms") in YAML and JSON.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a Go duration such as 1s or 500ms)", b)
	}
	*d = Duration(v)
	return nil
}
