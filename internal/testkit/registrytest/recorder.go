package registrytest

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Request is what the registry saw of one HTTP request.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	// Authorization is the raw header value as received, so tests can
	// assert which credentials a client sent where.
	Authorization string
	// BodyBytes is how many request body bytes the server read;
	// ResponseBytes how many response body bytes it wrote.
	BodyBytes, ResponseBytes int64
	// Status is the response status, or 0 while the response has not
	// started yet.
	Status int
	// Start is when the request began (see NewRecorder); End is when its
	// handler returned, zero while it runs.
	Start, End time.Time
}

// Recorder is an http.Handler that records every request it passes on to
// the next handler: the Registry's, and cmd/bench's counter of what
// crosses the wire. Its methods are safe for concurrent use.
type Recorder struct {
	next  http.Handler
	began func(*http.Request) time.Time

	mu       sync.Mutex
	requests []*Request
	// handling counts requests whose handler has not returned yet.
	handling sync.WaitGroup
}

// NewRecorder records the requests next serves. began says when a request
// began, for its Start; nil means when it arrived.
func NewRecorder(next http.Handler, began func(*http.Request) time.Time) *Recorder {
	if began == nil {
		began = func(*http.Request) time.Time { return time.Now() }
	}
	return &Recorder{next: next, began: began}
}

// Requests returns a copy of every request received since the recorder
// started or the last ResetRequests, in order of arrival. A request's Status is
// recorded before its response leaves the server, so once a client call
// returns its requests are complete here.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.requests))
	for i, req := range r.requests {
		out[i] = *req
	}
	return out
}

// SettledRequests waits until every request received so far has been
// handled, then returns them as Requests does. A client that gives up after
// one failed request of several in parallel (a refused blob upload) returns
// while the server still handles the others; their status is known only
// once the server is done with them.
func (r *Recorder) SettledRequests() []Request {
	r.handling.Wait()
	return r.Requests()
}

// ResetRequests forgets the requests recorded so far.
func (r *Recorder) ResetRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := &Request{
		Method:        req.Method,
		Path:          req.URL.Path,
		RawQuery:      req.URL.RawQuery,
		Authorization: req.Header.Get("Authorization"),
		Start:         r.began(req),
	}
	r.mu.Lock()
	r.requests = append(r.requests, rec)
	r.handling.Add(1)
	r.mu.Unlock()
	defer r.handling.Done()

	rw := &recordingWriter{ResponseWriter: w, r: r, rec: rec}
	if req.Body != nil {
		req.Body = &countingBody{ReadCloser: req.Body, add: func(n int64) {
			r.mu.Lock()
			rec.BodyBytes += n
			r.mu.Unlock()
		}}
	}
	defer func() {
		// A handler that writes nothing gets an implicit 200 from net/http,
		// which is only sent after we return.
		r.mu.Lock()
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		rec.End = time.Now()
		r.mu.Unlock()
	}()
	r.next.ServeHTTP(rw, req)
}

// recordingWriter captures the status as the header is written, rather than
// when the handler returns, because the client can see the response (and a
// test call Requests) before the handler's deferred code has run.
type recordingWriter struct {
	http.ResponseWriter
	r     *Recorder
	rec   *Request
	wrote bool
}

func (w *recordingWriter) WriteHeader(code int) {
	w.setStatus(code)
	// Distribution writes an error header again when a client vanishes
	// mid-upload; net/http would log that second call as superfluous.
	if w.wrote {
		return
	}
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.setStatus(http.StatusOK)
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.r.mu.Lock()
	w.rec.ResponseBytes += int64(n)
	w.r.mu.Unlock()
	return n, err
}

// setStatus keeps the first final status: 1xx responses are interim, and
// a later WriteHeader is ignored by net/http too.
func (w *recordingWriter) setStatus(code int) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	if w.rec.Status == 0 && code >= 200 {
		w.rec.Status = code
	}
}

// Flush lets distribution's writer, which probes for http.Flusher, flush
// through us.
func (w *recordingWriter) Flush() {
	w.setStatus(http.StatusOK)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody passes the count of every read to add, so that a count is
// complete by the time the handler responds.
type countingBody struct {
	io.ReadCloser
	add func(n int64)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.add(int64(n))
	}
	return n, err
}
