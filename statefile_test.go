package addon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipchat-connect/addon/addontest"
)

func TestStateFileKeepsInstallations(t *testing.T) {
	hc := addontest.NewTestServer(t)
	path := filepath.Join(t.TempDir(), "state.db")
	store, err := NewFileInstallationStore(path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, hc, store, nil)
	hi := f.install(t, 42)
	if err := f.a.Close(); err != nil {
		t.Fatal(err)
	}

	a, err := OpenWithStateFile(testDescriptor(f.base), path, Logger(discardLogger()), TrustedServers(hc.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	inst, err := a.Installation(t.Context(), hi.OAuthID)
	if err != nil || inst.OAuthSecret != hi.OAuthSecret || inst.RoomID != 42 {
		t.Fatalf("after reopening: %v, %v", inst, err)
	}
	if all, err := a.Installations(t.Context()); err != nil || len(all) != 1 {
		t.Errorf("Installations: %d, %v", len(all), err)
	}

	// A second add-on on the same file is refused at once.
	if _, err := OpenWithStateFile(testDescriptor(f.base), path); !errors.Is(err, ErrStateFileLocked) {
		t.Errorf("second open: %v, want ErrStateFileLocked", err)
	}
}

func TestBrokenStateFileIsNeverReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	garbage := []byte("this is not a state file\n")
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testDescriptor("https://addon.example.com")

	_, err := OpenWithStateFile(d, path)
	if !errors.Is(err, ErrCorruptStateFile) || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenWithStateFile: %v, want ErrCorruptStateFile naming the file", err)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), path) {
				t.Errorf("NewWithStateFile did not panic naming the file: %v", r)
			}
		}()
		NewWithStateFile(d, path)
	}()
	if got, _ := os.ReadFile(path); string(got) != string(garbage) {
		t.Error("the broken state file was changed")
	}

	// An invalid descriptor releases the store it opened.
	ok := filepath.Join(t.TempDir(), "ok.db")
	bad := testDescriptor("https://addon.example.com")
	bad.Key = ""
	if _, err := OpenWithStateFile(bad, ok); err == nil {
		t.Fatal("invalid descriptor accepted")
	}
	a, err := OpenWithStateFile(d, ok)
	if err != nil {
		t.Fatalf("state file still locked after a failed open: %v", err)
	}
	a.Close()
}
