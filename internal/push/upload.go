package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// upload sends blob l to the repository in two round trips when all goes
// well: the existence check and the start of an upload session at once (a
// HEAD and a POST side by side), then one PUT that carries the whole blob
// and commits it (distribution spec, "Pushing a blob monolithically": POST
// then PUT). When it does not go well:
//
//   - every request without a body is retried on its own by the Retrier in
//     the transport;
//   - a PUT or PATCH that fails mid-stream continues the same upload
//     session: the upload URL is asked how far it got (distribution spec,
//     "Resuming an upload": GET gives Range), the rest is sent with a
//     PATCH, and a PUT commits it;
//   - a session the registry no longer knows (BLOB_UPLOAD_UNKNOWN), or one
//     it will not resume, restarts this blob alone, never the push, and
//     then with a PATCH and a separate committing PUT, so that a commit
//     refused again leaves the bytes in the session; so does
//     a resumed one whose commit is refused as DIGEST_INVALID (a registry
//     can report how far it got before it has written all of a request
//     that broke off);
//   - a commit refused as unknown after the registry may already have
//     committed it (a retried PUT whose first answer was lost) is checked
//     with a HEAD before anything is sent again.
func (w *writer) upload(ctx context.Context, l v1.Layer) error {
	digest, err := l.Digest()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	loc, err := w.startUnlessThere(ctx, digest)
	if err != nil {
		return fmt.Errorf("uploading blob %s: %w", digest, err)
	}
	if loc == nil {
		if w.progress != nil {
			w.progress.unplan(size)
		}
		return nil
	}
	for restart := 1; ; restart++ {
		// The first try sends and commits in one request; a blob that
		// had to start over is sent, then committed, so that a refused
		// commit does not cost its bytes again.
		err := w.session(ctx, l, loc, digest, size, restart == 1)
		var again *restartError
		if !errors.As(err, &again) {
			if err != nil {
				return fmt.Errorf("uploading blob %s: %w", digest, err)
			}
			return nil
		}
		if err := w.retry.Wait(ctx, restart, 0, again.err); err != nil {
			return fmt.Errorf("uploading blob %s: %w", digest, err)
		}
		if loc, err = w.start(ctx); err != nil {
			return fmt.Errorf("uploading blob %s: %w", digest, err)
		}
	}
}

// startUnlessThere asks whether the repository has blob digest and starts
// an upload session, at once: one round trip either way. It returns the
// session's URL, or nil when the blob is there already (the session, if
// one was started, is cancelled in the background).
func (w *writer) startUnlessThere(ctx context.Context, digest v1.Hash) (*url.URL, error) {
	var there bool
	var headErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		there, headErr = w.blobExists(ctx, digest)
	}()
	loc, startErr := w.start(ctx)
	<-done
	switch {
	case headErr == nil && there:
		if loc != nil {
			w.cancelInBackground(ctx, loc)
		}
		return nil, nil
	case startErr != nil:
		// The start's answer says more (a denied push is refused here).
		return nil, startErr
	case headErr != nil:
		w.cancelInBackground(ctx, loc)
		return nil, fmt.Errorf("checking for blob %s: %w", digest, headErr)
	}
	return loc, nil
}

// start opens an upload session and returns its URL.
func (w *writer) start(ctx context.Context) (*url.URL, error) {
	resp, loc, err := startUpload(ctx, w.client, w.repo, nil)
	if err != nil {
		return nil, err
	}
	err = transport.CheckError(resp, http.StatusAccepted)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if loc == nil {
		return nil, errors.New("the registry started an upload without a Location")
	}
	return loc, nil
}

// cancelInBackground ends the session at loc without waiting for it; All
// waits for it before returning.
func (w *writer) cancelInBackground(ctx context.Context, loc *url.URL) {
	w.background.Add(1)
	go func() {
		defer w.background.Done()
		cancelUpload(context.WithoutCancel(ctx), w.client, loc)
	}()
}

// restartError says the upload session is lost and the blob must start
// over in a new one.
type restartError struct{ err error }

func (e *restartError) Error() string { return e.err.Error() }
func (e *restartError) Unwrap() error { return e.err }

// session sends l to the upload session at loc, and commits it: whole,
// in one PUT that carries it and commits it, or else in a PATCH and a PUT
// of its own. What breaks off mid-way continues from where the session
// stands (resuming as long as the registry lets it).
func (w *writer) session(ctx context.Context, l v1.Layer, loc *url.URL, digest v1.Hash, size int64, whole bool) error {
	var retry bool
	var atLeast time.Duration
	var err error
	if whole {
		if retry, atLeast, err = w.putWhole(ctx, l, loc, digest, size); err == nil {
			return nil
		}
	} else {
		var next *url.URL
		if next, retry, atLeast, err = w.patch(ctx, l, loc, 0, size); err == nil {
			return w.commit(ctx, next, digest, size)
		}
	}
	for attempt := 1; ; attempt++ {
		if sessionLost(err) {
			return &restartError{err}
		}
		if !retry {
			return err
		}
		if err := w.retry.Wait(ctx, attempt, atLeast, fmt.Errorf("sending to %s: %w", loc.Redacted(), err)); err != nil {
			return err
		}
		// Where does the session stand?
		var offset int64
		if loc, offset, err = w.uploadStatus(ctx, loc); err != nil {
			return &restartError{err}
		}
		if offset == size {
			break
		}
		var next *url.URL
		next, retry, atLeast, err = w.patch(ctx, l, loc, offset, size)
		if err == nil {
			loc = next
			break
		}
	}
	err = w.commit(ctx, loc, digest, size)
	if hasErrorCode(err, transport.DigestInvalidErrorCode) {
		// Resumed, and the session does not hold the blob: the registry
		// said how far it had got before it had written all that arrived
		// (it still was, for the request that broke off). Start this
		// blob over in a session of its own.
		return &restartError{err}
	}
	return err
}

// putWhole sends all of l to the session at loc and commits it as digest,
// in one request; or says why not, and whether (and after how long at
// least) the Retrier says to try again.
func (w *writer) putWhole(ctx context.Context, l v1.Layer, loc *url.URL, digest v1.Hash, size int64) (retry bool, atLeast time.Duration, err error) {
	body, sent, err := w.openBlob(l, digest, size)
	if err != nil {
		return false, 0, err
	}
	defer body.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, commitURL(loc, digest), body)
	if err != nil {
		return false, 0, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := w.client.Do(req)
	if err != nil {
		sent(false)
		retry, _, _ = w.retry.Classify(ctx, nil, err)
		return retry, 0, err
	}
	defer resp.Body.Close()
	// Classify first: it reads the body and puts it back for CheckError.
	retry, atLeast, _ = w.retry.Classify(ctx, resp, nil)
	if err := transport.CheckError(resp, http.StatusCreated); err != nil {
		sent(false)
		if _, isFile := body.(*fileBody); isFile && hasErrorCode(err, transport.DigestInvalidErrorCode) {
			// The registry hashed what the file holds: it is not the
			// blob the manifest names.
			return false, 0, &corruptError{msg: "the registry hashed what its file holds and refused it (DIGEST_INVALID): the layout is corrupt or was altered, rebuild it", err: err}
		}
		return retry, atLeast, err
	}
	sent(true)
	return false, 0, nil
}

// blobFile is a layer whose blob may be a file as it is (a layout's, or an
// engine export's compressed copy; see the source step): it can be sent
// from the file by the kernel (sendfile) rather than read through a hash,
// and the registry checks the digest. OpenBlobFile opens it as the source
// opens every file of a layout or archive: a regular file, not through a
// link, without blocking on a named pipe; a nil file means it is not a file.
type blobFile interface {
	OpenBlobFile() (*os.File, error)
}

// openBlob opens l's blob to send: its file when it has one whose size
// is right, else its stream, counted into progress. sent(ok) says how the
// request that read it ended: a failed one's bytes are taken back out of
// progress.
func (w *writer) openBlob(l v1.Layer, digest v1.Hash, size int64) (io.ReadCloser, func(ok bool), error) {
	if bf, ok := l.(blobFile); ok {
		f, err := bf.OpenBlobFile()
		if err != nil {
			return nil, nil, err
		}
		if f != nil {
			return w.fileBlob(f, size)
		}
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, nil, err
	}
	body := &countingBody{r: rc, progress: w.progress}
	return readCloser{body, rc}, func(ok bool) {
		if !ok {
			body.undo()
		}
	}, nil
}

// fileBlob is the request body that sends f, the blob's file, once its
// size is checked. A file that is not a regular one is refused here too:
// sendfile from a named pipe would wait for a writer that never comes.
func (w *writer) fileBlob(f *os.File, size int64) (io.ReadCloser, func(ok bool), error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("its file %s is not a regular file but %s: the source input must name a layout of regular files only, rebuild it", f.Name(), fi.Mode().Type())
	}
	if fi.Size() != size {
		f.Close()
		return nil, nil, fmt.Errorf("its file is %d bytes, its descriptor says %d: the layout is corrupt or was altered, rebuild it", fi.Size(), size)
	}
	body := &fileBody{f: f}
	untrack := w.progress.track(body)
	return body, untrack, nil
}

// readCloser reads through r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }

// fileBody is a blob's file as a request body. It shows net/http the
// file's descriptor (syscall.Conn), which is what lets the kernel send it
// (sendfile): the bytes never pass through this process. Seek tells how
// far it got, for progress and stall detection.
type fileBody struct {
	f *os.File
}

func (b *fileBody) Read(p []byte) (int, error)                   { return b.f.Read(p) }
func (b *fileBody) Close() error                                 { return b.f.Close() }
func (b *fileBody) Seek(offset int64, whence int) (int64, error) { return b.f.Seek(offset, whence) }
func (b *fileBody) SyscallConn() (syscall.RawConn, error)        { return b.f.SyscallConn() }

// sent is how many bytes of the file went out so far.
func (b *fileBody) sent() int64 {
	off, err := b.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0
	}
	return off
}

// corruptError is a blob the registry refused as not matching its digest:
// said plainly, with the registry's answer underneath.
type corruptError struct {
	msg string
	err error
}

func (e *corruptError) Error() string { return e.msg }
func (e *corruptError) Unwrap() error { return e.err }

func hasErrorCode(err error, code transport.ErrorCode) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && hasCode(terr, code)
}

// commitURL is the session URL loc with the digest that commits it.
func commitURL(loc *url.URL, digest v1.Hash) string {
	u := *loc
	q := u.Query()
	q.Set("digest", digest.String())
	u.RawQuery = q.Encode()
	return u.String()
}

// patch streams l from offset to the session at loc and returns the
// session's next URL; or why not, and whether (and after how long at
// least) the Retrier says to try again.
func (w *writer) patch(ctx context.Context, l v1.Layer, loc *url.URL, offset, size int64) (next *url.URL, retry bool, atLeast time.Duration, err error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, false, 0, err
	}
	defer rc.Close()
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, rc, offset); err != nil {
			return nil, false, 0, fmt.Errorf("skipping to byte %d to resume: %w", offset, err)
		}
	}
	body := &countingBody{r: rc, progress: w.progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), io.NopCloser(body))
	if err != nil {
		return nil, false, 0, err
	}
	req.ContentLength = size - offset
	req.Header.Set("Content-Type", "application/octet-stream")
	if offset > 0 {
		// Chunk semantics: this continues the session from offset.
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", offset, size-1))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		body.undo()
		retry, _, _ = w.retry.Classify(ctx, nil, err)
		return nil, retry, 0, err
	}
	defer resp.Body.Close()
	// Classify first: it reads the body and puts it back for CheckError.
	retry, atLeast, _ = w.retry.Classify(ctx, resp, nil)
	if err := transport.CheckError(resp, http.StatusNoContent, http.StatusAccepted, http.StatusCreated); err != nil {
		body.undo()
		return nil, retry, atLeast, err
	}
	next, err = nextLocation(loc, resp)
	return next, false, 0, err
}

// uploadStatus asks the session at loc how many bytes it holds.
func (w *writer) uploadStatus(ctx context.Context, loc *url.URL) (*url.URL, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusNoContent, http.StatusOK); err != nil {
		return nil, 0, err
	}
	next, err := nextLocation(loc, resp)
	if err != nil {
		return nil, 0, err
	}
	// Range: 0-N holds N+1 bytes; distribution says 0-0 for an empty
	// session too, which resumes from 0 either way.
	var offset int64
	if _, end, ok := strings.Cut(resp.Header.Get("Range"), "-"); ok {
		if n, err := strconv.ParseInt(end, 10, 64); err == nil && n > 0 {
			offset = n + 1
		}
	}
	return next, offset, nil
}

// commit ends the session at loc as blob digest. A commit refused as
// unknown is not the end of the session yet: the blob may be in place all
// the same (a commit whose answer was lost, then retried), or the session
// may still hold every byte (the refusal came from something in between);
// then the commit is sent again, and only otherwise does the blob restart.
func (w *writer) commit(ctx context.Context, loc *url.URL, digest v1.Hash, size int64) error {
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, commitURL(loc, digest), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := w.client.Do(req)
		if err != nil {
			return err
		}
		cerr := transport.CheckError(resp, http.StatusCreated)
		resp.Body.Close()
		if cerr == nil || !sessionLost(cerr) {
			return cerr
		}
		if there, err := w.blobExists(ctx, digest); err == nil && there {
			return nil
		}
		next, offset, err := w.uploadStatus(ctx, loc)
		if err != nil || offset != size {
			return &restartError{cerr}
		}
		if err := w.retry.Wait(ctx, attempt, 0, cerr); err != nil {
			return err
		}
		loc = next
	}
}

// blobExists asks whether the repository has blob digest.
func (w *writer) blobExists(ctx context.Context, digest v1.Hash) (bool, error) {
	u := url.URL{Scheme: w.repo.Scheme(), Host: w.repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", w.repo.RepositoryStr(), digest)}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// nextLocation is the session URL an upload answer names, resolved
// against the request's.
func nextLocation(base *url.URL, resp *http.Response) (*url.URL, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return nil, fmt.Errorf("the registry answered %s without a Location", resp.Status)
	}
	return base.Parse(l)
}

// sessionLost reports whether the registry no longer has the upload
// session, or will not continue it where this client would: the blob
// starts over.
func sessionLost(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return true
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.BlobUploadUnknownErrorCode, transport.BlobUploadInvalidErrorCode, "RANGE_INVALID", transport.SizeInvalidErrorCode:
			return true
		}
	}
	return false
}

// countingBody counts the bytes read from r into progress, and can take
// them back when the request that read them failed.
type countingBody struct {
	r        io.Reader
	progress *progressLog
	mu       sync.Mutex
	n        int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.progress != nil && n > 0 {
		b.mu.Lock()
		b.n += int64(n)
		b.mu.Unlock()
		b.progress.add(int64(n))
	}
	return n, err
}

// undo takes back what was counted: the retry will count what it sends.
func (b *countingBody) undo() {
	if b.progress == nil {
		return
	}
	b.mu.Lock()
	n := b.n
	b.n = 0
	b.mu.Unlock()
	b.progress.add(-n)
}

// limiter bounds the blob operations in flight. A rate limited registry
// lowers the bound, one slot per throttling answer, down to one.
type limiter struct {
	slots chan struct{}
	mu    sync.Mutex
	limit int
	// debt is slots to keep back as they come free.
	debt int
}

func newLimiter(n int) *limiter {
	l := &limiter{slots: make(chan struct{}, n), limit: n}
	for range n {
		l.slots <- struct{}{}
	}
	return l
}

func (l *limiter) acquire(ctx context.Context) error {
	select {
	case <-l.slots:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	if l.debt > 0 {
		l.debt--
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.slots <- struct{}{}
}

// lower takes one slot away for the rest of the push, and reports the new
// bound and whether it changed.
func (l *limiter) lower() (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit <= 1 {
		return l.limit, false
	}
	l.limit--
	l.debt++
	return l.limit, true
}
