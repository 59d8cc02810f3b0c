package geo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Errors of this package, for errors.Is. Open and Reload wrap them in an
// error that names the file.
var (
	// ErrInvalidDatabase: the file is not a MaxMind DB file, or it is
	// truncated or corrupt (it failed to open or to verify).
	ErrInvalidDatabase = errors.New("geo: invalid database")
	// ErrUnsupportedType: a valid MaxMind DB file whose metadata database
	// type is not one geo can read in that role (e.g. an ASN database given
	// as the City database).
	ErrUnsupportedType = errors.New("geo: unsupported database type")
	// ErrClosed: Reload after Close.
	ErrClosed = errors.New("geo: database closed")
	// ErrNoPath: Open without a City or Country database path.
	ErrNoPath = errors.New("geo: no database path")
)

// role is what a database file is used for.
type role string

const (
	roleCity role = "city"
	roleASN  role = "asn"
)

// kind is the record layout of a City-role database.
type kind uint8

const (
	kindCity kind = iota + 1
	kindCountry
)

// cityKind maps a metadata database type to the layout of its records:
// MaxMind's "GeoIP2-City", "GeoLite2-City", "GeoIP2-Precision-City",
// "GeoIP2-Enterprise", "GeoIP2-Country", "GeoLite2-Country", DB-IP's
// "DBIP-City-Lite", "dbip-city-lite", "DBIP-Location (compat=City)",
// "DBIP-Country-Lite" and the like. Matching is by substring, case-blind,
// because vendors vary the spelling; everything they call City or Country
// shares the GeoIP2 layout.
func cityKind(dbType string) (kind, bool) {
	t := strings.ToLower(dbType)
	switch {
	case strings.Contains(t, "city"), strings.Contains(t, "location"),
		strings.Contains(t, "enterprise"):
		return kindCity, true
	case strings.Contains(t, "country"):
		return kindCountry, true
	}
	return 0, false
}

// isASNType reports whether a metadata database type has top-level
// autonomous_system_number/organization fields: "GeoLite2-ASN",
// "DBIP-ASN-Lite (compat=GeoLite2-ASN)", "GeoIP2-ISP".
func isASNType(dbType string) bool {
	t := strings.ToLower(dbType)
	if _, geo := cityKind(t); geo {
		return false
	}
	return strings.Contains(t, "asn") || strings.HasSuffix(t, "isp")
}

// fileID identifies one version of a file: the watcher reloads when the
// file at a path no longer matches what was loaded. ok is false when the
// file could not be stat'ed.
type fileID struct {
	ok    bool
	size  int64
	mtime time.Time
	info  os.FileInfo // for os.SameFile: device and inode on Unix
}

func idOf(fi os.FileInfo) fileID {
	return fileID{ok: true, size: fi.Size(), mtime: fi.ModTime(), info: fi}
}

func statID(path string) fileID {
	if path == "" {
		return fileID{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	return idOf(fi)
}

func (a fileID) same(b fileID) bool {
	if !a.ok || !b.ok {
		return a.ok == b.ok
	}
	return a.size == b.size && a.mtime.Equal(b.mtime) && os.SameFile(a.info, b.info)
}

// fileError is an error about one database file. Its message names the
// file; errors.Is finds both the sentinel (if any) and the cause.
type fileError struct {
	msg   string
	kind  error
	cause error
}

func (e *fileError) Error() string { return e.msg }

func (e *fileError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

func newFileError(r role, path string, kind error, what string, cause error) error {
	var pe *fs.PathError
	if errors.As(cause, &pe) {
		cause = pe.Err // the path is already in the message
	}
	msg := fmt.Sprintf("geo: %s database %q: ", r, path)
	if what != "" {
		msg += what + ": "
	}
	return &fileError{msg: msg + cause.Error(), kind: kind, cause: cause}
}

// openReader opens, type-checks and (unless skipVerify) verifies one
// database file. The returned fileID is of the file actually read; it is
// valid even when the error is not nil, as long as the file could be
// stat'ed, so that the watcher does not retry a broken file until it
// changes again.
func openReader(path string, r role, opts Options) (*maxminddb.Reader, fileID, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileID{}, newFileError(r, path, nil, "", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	fi, err := f.Stat()
	if err != nil {
		return nil, fileID{}, newFileError(r, path, nil, "", err)
	}
	id := idOf(fi)
	if !fi.Mode().IsRegular() {
		return nil, id, newFileError(r, path, ErrInvalidDatabase, "not a regular file", errors.New(fi.Mode().String()))
	}
	if fi.Size() == 0 {
		return nil, id, newFileError(r, path, ErrInvalidDatabase, "", errors.New("file is empty"))
	}

	var rd *maxminddb.Reader
	if opts.MMap {
		// maxminddb maps the path itself; id was taken before, so a
		// replacement racing with this open costs at most one extra reload.
		rd, err = maxminddb.Open(path)
	} else {
		data := make([]byte, fi.Size())
		if _, err = io.ReadFull(f, data); err != nil {
			return nil, id, newFileError(r, path, ErrInvalidDatabase, "read", err)
		}
		rd, err = maxminddb.OpenBytes(data)
	}
	if err != nil {
		return nil, id, newFileError(r, path, ErrInvalidDatabase, "not a valid MaxMind DB file", err)
	}

	t := rd.Metadata.DatabaseType
	switch r {
	case roleCity:
		if _, ok := cityKind(t); !ok {
			return nil, id, newFileError(r, path, ErrUnsupportedType, "",
				fmt.Errorf("database type %q is not a City or Country database", t))
		}
	case roleASN:
		if !isASNType(t) {
			return nil, id, newFileError(r, path, ErrUnsupportedType, "",
				fmt.Errorf("database type %q is not an ASN database", t))
		}
	}
	if !opts.SkipVerify {
		if err := rd.Verify(); err != nil {
			return nil, id, newFileError(r, path, ErrInvalidDatabase, "failed verification", err)
		}
	}
	// Never Close rd, here or later: see state in db.go.
	return rd, id, nil
}

// openState opens both files. ids are those of the files read (for the
// watcher), also on error.
func openState(cityPath, asnPath string, opts Options) (*state, [2]fileID, error) {
	var ids [2]fileID
	city, cityID, err := openReader(cityPath, roleCity, opts)
	ids[0] = cityID
	if asnPath != "" {
		ids[1] = statID(asnPath)
	}
	if err != nil {
		return nil, ids, err
	}
	st := &state{city: city, ids: ids}
	st.kind, _ = cityKind(city.Metadata.DatabaseType)
	if asnPath != "" {
		asn, asnID, err := openReader(asnPath, roleASN, opts)
		ids[1] = asnID
		if err != nil {
			return nil, ids, err
		}
		st.asn = asn
	}
	st.ids = ids
	return st, ids, nil
}
