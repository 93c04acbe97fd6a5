package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The link changes when bytes arrive, never which requests are made or
// what they carry: the same publish through it makes the same requests
// with the same bytes as on loopback, and every body byte crosses the
// link's pacers. Counts only; the test's link is fast so that it costs
// little time, and no time is asserted.
func TestLinkShapesWithoutChangingTheRequests(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	sc := coldPush()
	plain := runOurs(t, b, sc, 0)

	l := newLink(time.Millisecond, 1e9)
	b.reg.shape(l)
	shaped := runOurs(t, b, sc, 1)
	b.reg.shape(nil)

	for _, c := range []struct {
		what          string
		plain, shaped int64
	}{
		{"requests", int64(plain.Requests), int64(shaped.Requests)},
		{"request body bytes", plain.Up, shaped.Up},
		{"blob bytes uploaded", plain.BlobUp, shaped.BlobUp},
		{"manifest PUTs", int64(plain.ManifestPuts), int64(shaped.ManifestPuts)},
	} {
		if c.plain != c.shaped {
			t.Errorf("%s: %d on loopback, %d through the link", c.what, c.plain, c.shaped)
		}
	}
	if got := l.up.bytes(); got != shaped.Up {
		t.Errorf("the uplink paced %d bytes, the counter saw %d request body bytes", got, shaped.Up)
	}
	if got := l.down.bytes(); got != shaped.Down {
		t.Errorf("the downlink paced %d bytes, the counter saw %d response body bytes", got, shaped.Down)
	}
	if shaped.RoundTrips < 1 || shaped.RoundTrips > shaped.Requests {
		t.Errorf("%d round trips for %d requests", shaped.RoundTrips, shaped.Requests)
	}
}

// Every connection is counted, shaped or not, and one that arrives while a
// link is set still delivers all it was sent; requests one after another,
// each on a new connection, are as many round trips.
func TestListenerCountsConnections(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() {
		t.Helper()
		resp, err := client.Get("http://" + b.host() + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/: %s", resp.Status)
		}
	}
	for _, l := range []*link{nil, newLink(time.Millisecond, 1e9)} {
		b.reg.shape(l)
		b.reg.reset()
		for range 3 {
			get()
		}
		k := b.reg.counts()
		if k.Conns != 3 || k.Requests != 3 {
			t.Errorf("link %v: %d connections for %d requests, want 3 for 3 (no keep-alive)", l, k.Conns, k.Requests)
		}
		// Each request began when its connection was accepted, after the
		// one before it had been answered: three in a row.
		if k.RoundTrips != 3 {
			t.Errorf("link %v: %d round trips for 3 requests one after another", l, k.RoundTrips)
		}
	}
	b.reg.shape(nil)
}

// A paced body hands over every byte, in reads no larger than a pacer's
// chunk, and the pacer counts them all; a paced writer writes them all.
func TestPacedBodies(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, size := range []int{0, 1, pacerChunk - 1, pacerChunk, pacerChunk + 1, len(content)} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			p := newPacer(1e10)
			body := &pacedBody{ReadCloser: io.NopCloser(bytes.NewReader(content[:size])), ctx: context.Background(), p: p}
			var got bytes.Buffer
			buf := make([]byte, 4*pacerChunk)
			for {
				n, err := body.Read(buf)
				if n > pacerChunk {
					t.Fatalf("one read returned %d bytes, more than a chunk (%d)", n, pacerChunk)
				}
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got.Bytes(), content[:size]) || p.bytes() != int64(size) {
				t.Errorf("read %d bytes, paced %d, want %d", got.Len(), p.bytes(), size)
			}

			down := newPacer(1e10)
			rec := &recorder{header: http.Header{}}
			w := &pacedWriter{ResponseWriter: rec, ctx: context.Background(), p: down}
			if n, err := w.Write(content[:size]); err != nil || n != size {
				t.Fatalf("Write = %d, %v, want %d", n, err, size)
			}
			if !bytes.Equal(rec.body.Bytes(), content[:size]) || down.bytes() != int64(size) {
				t.Errorf("wrote %d bytes, paced %d, want %d", rec.body.Len(), down.bytes(), size)
			}
		})
	}
}

// A request whose client has gone does not wait out its pacing.
func TestPacerStopsWithTheRequest(t *testing.T) {
	t.Parallel()
	p := newPacer(1e3) // a kB/s: a chunk would take a minute
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx, pacerChunk); err == nil {
		t.Error("wait on a cancelled request returned no error")
	}
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(int)             {}
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"100MB/s": 100e6, "1GB/s": 1e9, "50MiB/s": 50 << 20, "12.5MB": 12.5e6, "2000000": 2e6, "500kB/s": 5e5} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1MB/s", "0", "10"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) succeeded, want an error", in)
		}
	}
	if got := formatRate(100e6); !strings.HasPrefix(got, "100 MB/s") {
		t.Errorf("formatRate(100e6) = %q, want 100 MB/s", got)
	}
}

func TestNetworkFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		want    []string
		wantErr string
	}{
		{nil, []string{loopback, wan}, ""},
		{[]string{"-network", "wan"}, []string{wan}, ""},
		{[]string{"-network", "wan, loopback,wan"}, []string{wan, loopback}, ""},
		{[]string{"-network", "lan"}, nil, `-network: unknown "lan"`},
		{[]string{"-network", ","}, nil, "-network: name loopback, wan or both"},
		{[]string{"-bandwidth", "fast"}, nil, `-bandwidth: bandwidth "fast"`},
		{[]string{"-latency", "0s"}, nil, "-latency 0s: want a positive duration"},
	} {
		c, err := parseFlags(tc.args, io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("parseFlags(%q) = %v, want an error starting %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFlags(%q): %v", tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, c.networks); diff != "" {
			t.Errorf("parseFlags(%q) networks mismatch (-want +got):\n%s", tc.args, diff)
		}
	}
}
