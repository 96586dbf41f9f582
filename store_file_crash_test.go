//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// Tests that need real processes: crashes, locks between processes, and
// the umask.

package addon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	childPathEnv = "ADDON_FILESTORE_CHILD_PATH"
	childModeEnv = "ADDON_FILESTORE_CHILD_MODE"
	childSeedEnv = "ADDON_FILESTORE_CHILD_SEED"

	crashInstallations = 20
	// crashCompaction keeps the log short, so that many kills land during
	// a compaction.
	crashCompactMin = 4096
)

// crashInstallation is installation n as written at version ver.
func crashInstallation(n, ver int) *Installation {
	inst := testInstallation(n)
	inst.GroupName = fmt.Sprintf("Example Group %d, version %d", n, ver)
	inst.UpdatedAt = inst.UpdatedAt.Add(time.Duration(ver) * time.Second)
	return inst
}

// TestCrashChild is the process that the crash and lock tests start and
// kill. It does nothing unless started by them.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(childPathEnv)
	if path == "" {
		t.Skip("run by TestFileStoreCrash and TestFileStoreLockedAcrossProcesses")
	}
	switch os.Getenv(childModeEnv) {
	case "lock":
		_, err := NewFileInstallationStore(path)
		fmt.Printf("%v\n", errors.Is(err, ErrStateFileLocked))
	case "crash":
		seed, _ := strconv.Atoi(os.Getenv(childSeedEnv))
		crashChild(path, seed)
	}
}

// crashChild writes until it is killed. Before each operation it prints
// "B add n ver" or "B del n"; once the operation has returned nil, "A".
func crashChild(path string, seed int) {
	fail := func(err error) {
		fmt.Printf("E %v\n", err)
		os.Exit(1)
	}
	s, err := NewFileInstallationStore(path, withCompaction(2, crashCompactMin))
	if err != nil {
		fail(err)
	}
	list, err := s.List(context.Background())
	if err != nil {
		fail(err)
	}
	held := map[int]bool{}
	for _, inst := range list {
		n, _ := strconv.Atoi(inst.OAuthID[:8])
		held[n] = true
	}
	fmt.Printf("ready\n")

	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	for i := 0; ; i++ {
		n := rng.IntN(crashInstallations)
		if held[n] && rng.IntN(3) == 0 {
			fmt.Printf("B del %d\n", n)
			err = s.Delete(context.Background(), testInstallation(n).OAuthID)
			delete(held, n)
		} else {
			ver := seed*1_000_000 + i
			fmt.Printf("B add %d %d\n", n, ver)
			err = s.Add(context.Background(), crashInstallation(n, ver))
			held[n] = true
		}
		if err != nil {
			fail(err)
		}
		fmt.Printf("A\n")
	}
}

// startChild starts the test binary as TestCrashChild and returns it with
// its output, line by line.
func startChild(t *testing.T, path, mode string, seed int) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		childPathEnv+"="+path, childModeEnv+"="+mode, childSeedEnv+"="+strconv.Itoa(seed))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	return cmd, lines
}

// crashModel is what the parent knows the child wrote.
type crashModel struct {
	acked    map[string]Installation
	inFlight func(map[string]Installation) // the unacknowledged operation
}

func (m *crashModel) apply(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "A":
		if m.inFlight == nil {
			t.Fatal("child acknowledged an operation it did not start")
		}
		m.inFlight(m.acked)
		m.inFlight = nil
	case len(f) == 4 && f[0] == "B" && f[1] == "add":
		n, _ := strconv.Atoi(f[2])
		ver, _ := strconv.Atoi(f[3])
		inst := crashInstallation(n, ver)
		m.inFlight = func(s map[string]Installation) { s[inst.OAuthID] = *inst }
	case len(f) == 3 && f[0] == "B" && f[1] == "del":
		n, _ := strconv.Atoi(f[2])
		id := testInstallation(n).OAuthID
		m.inFlight = func(s map[string]Installation) { delete(s, id) }
	case len(f) >= 1 && f[0] == "E":
		t.Fatalf("child failed: %s", line)
	}
}

// check reopens the file and compares it with the model: it must hold
// every acknowledged operation, and at most the one in flight besides.
func (m *crashModel) check(t *testing.T, path string, round int) {
	t.Helper()
	s, err := NewFileInstallationStore(path, withCompaction(2, crashCompactMin))
	if err != nil {
		t.Fatalf("kill %d: reopening after the crash: %v", round, err)
	}
	got := contents(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoTempFiles(t, path)

	withInFlight := maps(m.acked)
	if m.inFlight != nil {
		m.inFlight(withInFlight)
	}
	switch {
	case equalContents(got, m.acked):
	case equalContents(got, withInFlight):
		m.acked = withInFlight
	default:
		t.Fatalf("kill %d: file holds %d installations, acknowledged %d", round, len(got), len(m.acked))
	}
	m.inFlight = nil
}

func equalContents(a, b map[string]Installation) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFileStoreCrash kills a writing process with SIGKILL at random moments,
// compactions included, and checks after each kill that the file holds
// exactly the acknowledged writes, and perhaps the one in flight.
func TestFileStoreCrash(t *testing.T) {
	kills := 200
	if testing.Short() {
		kills = 30
	}
	path := filepath.Join(t.TempDir(), "state.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	model := &crashModel{acked: map[string]Installation{}}
	acked, replaced, midCompaction := 0, 0, 0

	for round := range kills {
		before := statFile(t, path)
		cmd, lines := startChild(t, path, "crash", round+1)

		// Mostly kill while writing; sometimes while opening.
		if rng.IntN(8) != 0 {
			for line := range lines {
				if line == "ready" {
					break
				}
				model.apply(t, line)
			}
		}
		time.Sleep(time.Duration(rng.IntN(40_000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		for line := range lines {
			if line != "ready" {
				model.apply(t, line)
			}
			if line == "A" {
				acked++
			}
		}
		if before != nil && !os.SameFile(before, statFile(t, path)) {
			replaced++
		}
		if hasTempFiles(t, path) {
			midCompaction++
		}
		model.check(t, path, round)
	}
	if acked < kills {
		t.Fatalf("only %d writes were acknowledged in %d runs: the children barely wrote", acked, kills)
	}
	if mode := fileMode(t, path); mode != 0o600 {
		t.Fatalf("state file has mode %v, want 0600", mode)
	}
	t.Logf("%d kills, %d acknowledged writes; the child replaced the file in %d runs "+
		"and was killed during a compaction in %d", kills, acked, replaced, midCompaction)
	if !testing.Short() && (replaced == 0 || midCompaction == 0) {
		t.Fatal("no kill landed during a compaction")
	}
}

func hasTempFiles(t *testing.T, path string) bool {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix(path)) {
			return true
		}
	}
	return false
}

func TestFileStoreLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path, withCompaction(2, 1024))
	if err := s.Add(ctx, testInstallation(1)); err != nil {
		t.Fatal(err)
	}

	_, err := NewFileInstallationStore(path)
	if !errors.Is(err, ErrStateFileLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v, want ErrStateFileLocked naming the file", err)
	}

	// The lock moves with the file when compaction replaces it.
	s.writeMu.Lock()
	err = s.compact()
	s.writeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileInstallationStore(path); !errors.Is(err, ErrStateFileLocked) {
		t.Fatalf("open after compaction: %v, want ErrStateFileLocked", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := openTestStore(t, path)
	if _, err := r.Get(ctx, testInstallation(1).OAuthID); err != nil {
		t.Fatalf("open after Close: %v", err)
	}
}

func TestFileStoreLockedAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)

	probe := func() string {
		cmd, lines := startChild(t, path, "lock", 0)
		var out []string
		for line := range lines {
			out = append(out, line)
		}
		_ = cmd.Wait()
		if len(out) == 0 {
			return ""
		}
		return out[0]
	}
	if got := probe(); got != "true" {
		t.Fatalf("another process opening a held file: locked=%q, want true", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := probe(); got != "false" {
		t.Fatalf("another process opening a released file: locked=%q, want false", got)
	}
}

func TestFileStorePermissions(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	ctx := context.Background()
	dir := t.TempDir()

	path := filepath.Join(dir, "state.db")
	s := openTestStore(t, path, withCompaction(2, 1024))
	if mode := fileMode(t, path); mode != 0o600 {
		t.Fatalf("new state file has mode %v, want 0600", mode)
	}
	for i := range 10 {
		if err := s.Add(ctx, testInstallation(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.writeMu.Lock()
	err := s.compact()
	s.writeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if mode := fileMode(t, path); mode != 0o600 {
		t.Fatalf("compacted state file has mode %v, want 0600", mode)
	}

	// A state file made by hand is restricted when opened.
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, appendHeader(nil), 0o644); err != nil {
		t.Fatal(err)
	}
	openTestStore(t, other)
	if mode := fileMode(t, other); mode != 0o600 {
		t.Fatalf("opened state file has mode %v, want 0600", mode)
	}
}
