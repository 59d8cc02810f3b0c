package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

const (
	mediaJSON = "application/json"
	mediaDNS  = "text/dns" // an RFC 1035 master file
)

// mediaType returns the request's media type, lower case and without
// parameters, or a 415 problem when it is not one of accepted.
func mediaType(r *http.Request, accepted ...string) (string, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, a := range accepted {
			if mt == a {
				return mt, nil
			}
		}
	}
	if ct == "" {
		ct = "none"
	}
	return "", problemf(http.StatusUnsupportedMediaType, typeMediaType, "Content-Type %s is not accepted here; send %s", ct, strings.Join(accepted, " or "))
}

// readBody returns the whole body, at most limit bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// decodeJSON reads one JSON value of Content-Type application/json into
// v, at most limit bytes. Unknown fields, trailing data and type errors
// are 400 problems naming the field; an oversized body is 413.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if _, err := mediaType(r, mediaJSON); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			return err
		}
		return problemf(http.StatusBadRequest, typeMalformed, "the body holds more than one JSON value")
	}
	return nil
}

// malformed turns a decoding error into a 400 problem with the field at
// fault, keeping a too-large body's error for 413.
func malformed(err error) error {
	var (
		big    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &big):
		return err
	case errors.Is(err, io.EOF):
		return problemf(http.StatusBadRequest, typeMalformed, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problemf(http.StatusBadRequest, typeMalformed, "the JSON body ends early")
	case errors.As(err, &syntax):
		return problemf(http.StatusBadRequest, typeMalformed, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		p := problemf(http.StatusBadRequest, typeMalformed, "%s: want %s, not a JSON %s", fieldOr(typ.Field), typ.Type, typ.Value)
		p.Errors = []FieldError{{Field: typ.Field, Message: fmt.Sprintf("want %s, not a JSON %s", typ.Type, typ.Value)}}
		return p
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		field, _ := strconv.Unquote(name)
		p := problemf(http.StatusBadRequest, typeMalformed, "unknown field %s", name)
		p.Errors = []FieldError{{Field: field, Message: "unknown field"}}
		return p
	}
	// A field's own decoder (policy, fallback, durations) refused it.
	p := problemf(http.StatusBadRequest, typeMalformed, "%s", msg)
	if field, text, ok := strings.Cut(msg, ": "); ok && isFieldName(field) {
		p.Errors = []FieldError{{Field: field, Message: text}}
	}
	return p
}

func fieldOr(f string) string {
	if f == "" {
		return "the body"
	}
	return f
}
