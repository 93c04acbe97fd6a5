package main

import (
	"os"
	"strings"
	"testing"
)

// TestDemo runs the README's first command in process: it must publish and
// read back the sample image, with the full metadata.
func TestDemo(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				done <- b.String()
				return
			}
		}
	}()
	runErr := run(t.Context())
	w.Close()
	os.Stdout = stdout
	out := <-done
	if runErr != nil {
		t.Fatalf("run() = %v\n%s", runErr, out)
	}
	for _, want := range []string{
		"== Step outputs (GITHUB_OUTPUT)",
		"### Published `",
		"org.opencontainers.image.licenses=MIT",
		"org.opencontainers.image.description=Widget builds and serves widgets for the Acme platform.",
		"== Read back from the registry:",
		"application/vnd.oci.image.manifest.v1+json",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
