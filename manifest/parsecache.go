package manifest

import (
	"crypto/sha256"
	"os"
	"slices"
	"sync"
	"time"
)

// ParseCache remembers the result of parsing each manifest file, so that
// a reload re-parses only what changed: with 10,000 manifests, picking up
// one edit costs reading and hashing the files, not parsing and validating
// all of them again. An entry is reused when the file's bytes (SHA-256)
// are the same (or, without reading it, its size, modification time,
// inode and, on Linux, status change time (ctime, which catches a rewrite
// whose modification time was put back), when the file was last
// modified well before it was read) and so
// is everything its parse read besides: icon files,
// secret files and environment variables are read again and compared.
//
// A cache belongs to one Options value (pass it as Options.Cache to every
// load that uses those options). It is safe for concurrent use; it keeps
// one entry per path seen, and drops the entries of paths a load no
// longer lists.
type ParseCache struct {
	mu      sync.Mutex
	entries map[string]*parsed
}

type parsed struct {
	stat   os.FileInfo // of the file before it was read; nil if unknown
	read   time.Time   // when it was read
	sum    [sha256.Size]byte
	deps   []parseDep
	result FileResult
}

// parseDep is one thing a parse read besides the manifest: an icon file or
// a secret reference, with the digest of what reading it gave (value or
// error).
type parseDep struct {
	icon   string     // icon file path; "" for a secret
	secret *SecretRef // Env or File set; the value is not kept
	dir    string     // the manifest's folder: icons stay in it, relative secret files start there
	sum    [sha256.Size]byte
}

// depRecorder collects the parseDeps of one parse.
type depRecorder struct{ deps []parseDep }

func outcomeSum(data []byte, err error) [sha256.Size]byte {
	h := sha256.New()
	if err != nil {
		h.Write([]byte{1})
		h.Write([]byte(err.Error()))
	} else {
		h.Write([]byte{0})
		h.Write(data)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func (r *depRecorder) icon(path, dir string, data []byte, err error) {
	if r != nil {
		r.deps = append(r.deps, parseDep{icon: path, dir: dir, sum: outcomeSum(data, err)})
	}
}

func (r *depRecorder) secret(ref *SecretRef, dir string, err error) {
	if r != nil {
		r.deps = append(r.deps, parseDep{secret: &SecretRef{Env: ref.Env, File: ref.File}, dir: dir, sum: outcomeSum([]byte(ref.value), err)})
	}
}

// current reports whether reading d again gives what it gave.
func (d parseDep) current(opts Options) bool {
	if d.icon != "" {
		data, err := readIcon(opts, d.icon, d.dir)
		return outcomeSum(data, err) == d.sum
	}
	ref := &SecretRef{Env: d.secret.Env, File: d.secret.File}
	err := resolveSecret(opts, ref, d.dir)
	return outcomeSum([]byte(ref.value), err) == d.sum
}

// racyWindow: a file modified this close to when it was read may have
// changed again within the same modification-time tick, so its entry is
// checked by content, not by stat (git's "racily clean" rule).
const racyWindow = 2 * time.Second

// unchanged returns the cached result for path when a stat shows the file
// untouched since it was read and its dependencies are unchanged.
func (c *ParseCache) unchanged(path string, fi os.FileInfo, opts Options) (FileResult, bool) {
	c.mu.Lock()
	e := c.entries[path]
	c.mu.Unlock()
	if e == nil || e.stat == nil || fi == nil || !os.SameFile(e.stat, fi) || e.stat.Size() != fi.Size() ||
		!e.stat.ModTime().Equal(fi.ModTime()) || !sameChangeTime(e.stat, fi) || e.read.Sub(fi.ModTime()) < racyWindow || !depsCurrent(e.deps, opts) {
		return FileResult{}, false
	}
	return e.result.clone(), true
}

// sameChangeTime reports whether a and b have the same status change
// time, or whether the system does not tell (changeTime).
func sameChangeTime(a, b os.FileInfo) bool {
	ca, okA := changeTime(a)
	cb, okB := changeTime(b)
	if !okA || !okB {
		return okA == okB
	}
	return ca.Equal(cb)
}

// parse returns the cached result for path if data and its dependencies
// are unchanged, or parses it and remembers the result.
func (c *ParseCache) parse(path string, fi os.FileInfo, read time.Time, data []byte, opts Options) FileResult {
	sum := sha256.Sum256(data)
	c.mu.Lock()
	e := c.entries[path]
	c.mu.Unlock()
	if e != nil && e.sum == sum && depsCurrent(e.deps, opts) {
		c.mu.Lock()
		c.entries[path] = &parsed{stat: fi, read: read, sum: sum, deps: e.deps, result: e.result}
		c.mu.Unlock()
		return e.result.clone()
	}
	rec := &depRecorder{}
	in, probs := parse(path, data, opts, rec)
	fr := FileResult{Path: path, Integration: in, Problems: probs}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*parsed{}
	}
	c.entries[path] = &parsed{stat: fi, read: read, sum: sum, deps: rec.deps, result: fr.clone()}
	c.mu.Unlock()
	return fr
}

func depsCurrent(deps []parseDep, opts Options) bool {
	for _, d := range deps {
		if !d.current(opts) {
			return false
		}
	}
	return true
}

// keep drops the entries of paths not in files.
func (c *ParseCache) keep(files []string) {
	listed := make(map[string]bool, len(files))
	for _, f := range files {
		listed[f] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.entries {
		if !listed[p] {
			delete(c.entries, p)
		}
	}
}

// clone copies what later steps of a load change (checkUniqueIDs appends
// problems and drops the integration); the Integration itself is immutable
// and shared.
func (f FileResult) clone() FileResult {
	f.Problems = slices.Clip(slices.Clone(f.Problems))
	return f
}
