package addon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testInstallation returns a realistic installation, different for each n.
func testInstallation(n int) *Installation {
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	return &Installation{
		OAuthID:         fmt.Sprintf("%08d-6c1f-4a8e-9d2b-7f3e5a1c0b9d", n),
		OAuthSecret:     fmt.Sprintf("Zq7Xk2Lm9Pw4Rt8Vy3Bn6Hc1Jd5Fg0Sa%08d", n),
		CapabilitiesURL: "https://api.hipchat.com/v2/capabilities",
		TokenURL:        "https://api.hipchat.com/v2/oauth/token",
		APIURL:          "https://api.hipchat.com/v2/",
		GroupID:         100000 + n,
		GroupName:       fmt.Sprintf("Example Group %d", n),
		RoomID:          n % 7 * 1000,
		InstalledAt:     at,
		UpdatedAt:       at.Add(time.Hour),
	}
}

// openTestStore opens a store that the test closes when it ends.
func openTestStore(t testing.TB, path string, opts ...FileStoreOption) *FileInstallationStore {
	t.Helper()
	s, err := NewFileInstallationStore(path, opts...)
	if err != nil {
		t.Fatalf("NewFileInstallationStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// contents returns the store's installations keyed by oauthId.
func contents(t testing.TB, s *FileInstallationStore) map[string]Installation {
	t.Helper()
	list, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := make(map[string]Installation, len(list))
	for _, inst := range list {
		out[inst.OAuthID] = *inst
	}
	return out
}

// reopenContents closes s if not nil, reopens path and returns what it holds.
func reopenContents(t testing.TB, s *FileInstallationStore, path string) map[string]Installation {
	t.Helper()
	if s != nil {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	r, err := NewFileInstallationStore(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer r.Close()
	return contents(t, r)
}

func assertContents(t testing.TB, got, want map[string]Installation) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("store holds %d installations %v, want %d %v",
			len(got), slices.Sorted(mapKeys(got)), len(want), slices.Sorted(mapKeys(want)))
	}
}

func mapKeys(m map[string]Installation) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func assertNoTempFiles(t testing.TB, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix(path)) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestFileStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	want := map[string]Installation{}

	for i := range 5 {
		inst := testInstallation(i)
		if err := s.Add(ctx, inst); err != nil {
			t.Fatalf("Add: %v", err)
		}
		want[inst.OAuthID] = *inst
	}
	replaced := testInstallation(2)
	replaced.GroupName = "Renamed Group"
	if err := s.Add(ctx, replaced); err != nil {
		t.Fatalf("Add: %v", err)
	}
	want[replaced.OAuthID] = *replaced
	if err := s.Delete(ctx, testInstallation(3).OAuthID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	delete(want, testInstallation(3).OAuthID)

	assertContents(t, contents(t, s), want)
	assertContents(t, reopenContents(t, s, path), want)
}

func TestFileStoreHandsOutCopies(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"))
	inst := testInstallation(1)
	if err := s.Add(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst.GroupName = "changed after Add"

	got, err := s.Get(ctx, inst.OAuthID)
	if err != nil {
		t.Fatal(err)
	}
	if got.GroupName != testInstallation(1).GroupName {
		t.Fatalf("store kept the caller's value: %q", got.GroupName)
	}
	got.GroupName = "changed after Get"
	again, _ := s.Get(ctx, inst.OAuthID)
	if again.GroupName != testInstallation(1).GroupName {
		t.Fatalf("Get handed out the store's own value: %q", again.GroupName)
	}
}

// TestFileRecordCarriesEveryField fails when Installation gains a field
// that the file format does not store.
func TestFileRecordCarriesEveryField(t *testing.T) {
	var inst Installation
	v := reflect.ValueOf(&inst).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Int:
			f.SetInt(int64(1000 + i))
		default:
			if f.Type() != reflect.TypeFor[time.Time]() {
				t.Fatalf("field %s of kind %s: teach this test and fileRecord about it",
					v.Type().Field(i).Name, f.Kind())
			}
			f.Set(reflect.ValueOf(time.Unix(int64(1700000000+i), 0).UTC()))
		}
	}

	rec := recordOf(opPut, &inst)
	if got := rec.installation(); !reflect.DeepEqual(*got, inst) {
		t.Fatalf("record round trip: got %+v, want %+v", *got, inst)
	}

	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	if err := s.Add(context.Background(), &inst); err != nil {
		t.Fatal(err)
	}
	want := map[string]Installation{inst.OAuthID: inst}
	assertContents(t, reopenContents(t, s, path), want)
}

func TestFileStoreRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	if err := s.Add(context.Background(), testInstallation(1)); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, path)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		op   func() error
		is   error
	}{
		{"add without oauthId", func() error {
			inst := testInstallation(2)
			inst.OAuthID = ""
			return s.Add(context.Background(), inst)
		}, nil},
		{"add nil", func() error { return s.Add(context.Background(), nil) }, nil},
		{"delete unknown", func() error {
			return s.Delete(context.Background(), testInstallation(2).OAuthID)
		}, ErrInstallationNotFound},
		{"add with done context", func() error {
			return s.Add(cancelled, testInstallation(2))
		}, context.Canceled},
		{"delete with done context", func() error {
			return s.Delete(cancelled, testInstallation(1).OAuthID)
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v does not wrap %v", err, tt.is)
			}
			if !bytes.Equal(readFile(t, path), before) {
				t.Fatal("the state file changed")
			}
			if got := contents(t, s); len(got) != 1 {
				t.Fatalf("store holds %d installations, want 1", len(got))
			}
		})
	}
}

func TestFileStoreClosed(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Add(context.Background(), testInstallation(1)); err == nil {
		t.Fatal("Add after Close succeeded")
	}
	if _, err := s.List(context.Background()); err == nil {
		t.Fatal("List after Close succeeded")
	}
}

func TestFileStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path, withCompaction(2, 4096))

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				inst := testInstallation(w*100 + i)
				if err := s.Add(ctx, inst); err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				if _, err := s.Get(ctx, inst.OAuthID); err != nil {
					t.Errorf("Get: %v", err)
				}
				if _, err := s.List(ctx); err != nil {
					t.Errorf("List: %v", err)
				}
				if i%3 == 0 {
					if err := s.Delete(ctx, inst.OAuthID); err != nil {
						t.Errorf("Delete: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()

	want := contents(t, s)
	if len(want) != 4*(25-9) {
		t.Fatalf("store holds %d installations, want %d", len(want), 4*(25-9))
	}
	assertContents(t, reopenContents(t, s, path), want)
}

func TestFileStoreCompaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path, withCompaction(2, 8192))

	for i := range 200 {
		inst := testInstallation(i % 10)
		inst.UpdatedAt = inst.UpdatedAt.Add(time.Duration(i) * time.Second)
		if err := s.Add(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	want := contents(t, s)
	if err := s.Close(); err != nil { // waits for a running compaction
		t.Fatal(err)
	}
	// 200 records of about 300 bytes each were written; compaction must
	// have kept the file near 8 KiB.
	if size := fileSize(t, path); size > 3*8192 {
		t.Fatalf("state file is %d bytes: not compacted", size)
	}
	assertNoTempFiles(t, path)
	assertContents(t, reopenContents(t, nil, path), want)
	if mode := fileMode(t, path); mode != 0o600 {
		t.Fatalf("compacted file has mode %v, want 0600", mode)
	}
}

func TestFileStoreWritesDuringCompaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	for i := range 50 {
		if err := s.Add(ctx, testInstallation(i%10)); err != nil {
			t.Fatal(err)
		}
	}
	before := statFile(t, path)

	// Writes made while the snapshot is written must reach the new file.
	s.afterSnapshot = func() {
		replaced := testInstallation(1)
		replaced.GroupName = "replaced during compaction"
		for _, err := range []error{
			s.Add(ctx, testInstallation(20)),
			s.Add(ctx, replaced),
			s.Delete(ctx, testInstallation(2).OAuthID),
		} {
			if err != nil {
				t.Error(err)
			}
		}
	}
	s.writeMu.Lock()
	s.compacting = true
	s.wg.Add(1)
	s.writeMu.Unlock()
	s.compactInBackground()

	if os.SameFile(before, statFile(t, path)) {
		t.Fatal("the state file was not replaced")
	}
	want := contents(t, s)
	if want[testInstallation(1).OAuthID].GroupName != "replaced during compaction" || len(want) != 10 {
		t.Fatalf("store holds %d installations after compaction, want 10", len(want))
	}
	if err := s.Add(ctx, testInstallation(21)); err != nil {
		t.Fatal(err)
	}
	want[testInstallation(21).OAuthID] = *testInstallation(21)
	assertContents(t, reopenContents(t, s, path), want)
	assertNoTempFiles(t, path)
}

func TestFileStoreCompactsOnOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path) // default threshold: no compaction
	for i := range 100 {
		if err := s.Add(ctx, testInstallation(1)); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grown := fileSize(t, path)

	r := openTestStore(t, path, withCompaction(2, 1024))
	if got := len(contents(t, r)); got != 1 {
		t.Fatalf("store holds %d installations, want 1", got)
	}
	if size := fileSize(t, path); size >= grown/10 {
		t.Fatalf("state file is %d bytes after opening, was %d: not compacted", size, grown)
	}
}

// corruptionFixture is a state file built by a known sequence of writes,
// with what a store must hold when the file ends at each valid boundary.
type corruptionFixture struct {
	dir        string // where damaged copies are opened
	data       []byte
	boundaries []int64 // ascending offsets where a file may validly end
	states     map[int64]map[string]Installation
}

func newCorruptionFixture(t *testing.T) *corruptionFixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	fx := &corruptionFixture{dir: t.TempDir(), states: map[int64]map[string]Installation{}}
	state := map[string]Installation{}
	mark := func() {
		off := fileSize(t, path)
		fx.boundaries = append(fx.boundaries, off)
		fx.states[off] = maps(state)
	}
	mark()
	// The first append writes the schema frame before its record.
	fx.boundaries = append(fx.boundaries, headerSize+frameHeaderSize+int64(len(s.schema)))
	fx.states[fx.boundaries[1]] = maps(state)

	ops := []struct {
		del bool
		n   int
	}{{false, 1}, {false, 2}, {false, 3}, {true, 2}, {false, 1}, {false, 4}, {true, 1}}
	for i, op := range ops {
		inst := testInstallation(op.n)
		inst.UpdatedAt = inst.UpdatedAt.Add(time.Duration(i) * time.Second)
		var err error
		if op.del {
			err = s.Delete(ctx, inst.OAuthID)
			delete(state, inst.OAuthID)
		} else {
			err = s.Add(ctx, inst)
			state[inst.OAuthID] = *inst
		}
		if err != nil {
			t.Fatal(err)
		}
		mark()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fx.data = readFile(t, path)
	if len(fx.data) > pagePadding {
		t.Fatalf("fixture of %d bytes holds padding; the test expects none", len(fx.data))
	}
	return fx
}

// validPrefix returns the last boundary at or before off.
func (fx *corruptionFixture) validPrefix(off int64) int64 {
	i, found := slices.BinarySearch(fx.boundaries, off)
	if found {
		return off
	}
	if i == 0 {
		return 0
	}
	return fx.boundaries[i-1]
}

func maps(m map[string]Installation) map[string]Installation {
	out := make(map[string]Installation, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// openDamaged writes data to a new file in dir and opens it, with recovery if
// report is not nil.
func openDamaged(
	t *testing.T, dir string, data []byte, report *[]RecoveryReport,
) (string, *FileInstallationStore, error) {
	t.Helper()
	// A new file each time: ext4 flushes a file truncated and rewritten.
	dir, err := os.MkdirTemp(dir, "case")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var opts []FileStoreOption
	if report != nil {
		opts = append(opts, WithRecovery(func(r RecoveryReport) { *report = append(*report, r) }))
	}
	s, err := NewFileInstallationStore(path, opts...)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return path, s, err
}

func assertCorrupt(t *testing.T, err error, path string, data []byte) {
	t.Helper()
	if !errors.Is(err, ErrCorruptStateFile) {
		t.Fatalf("error %v does not wrap ErrCorruptStateFile", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("error %q does not name the file and the offset", err)
	}
	if !bytes.Equal(readFile(t, path), data) {
		t.Fatal("a failed open changed the file")
	}
}

// assertRecovered opens data with recovery and checks that the store holds
// the state of the file's longest valid prefix, and reports the rest.
func assertRecovered(t *testing.T, fx *corruptionFixture, data []byte, damageAt int64) {
	t.Helper()
	var reports []RecoveryReport
	path, s, err := openDamaged(t, fx.dir, data, &reports)
	if err != nil {
		t.Fatalf("open with recovery: %v", err)
	}
	prefix := fx.validPrefix(damageAt)
	want := fx.states[prefix]
	if prefix < headerSize {
		want = map[string]Installation{}
	}
	assertContents(t, contents(t, s), want)
	if len(reports) != 1 {
		t.Fatalf("got %d recovery reports, want 1", len(reports))
	}
	r := reports[0]
	if r.Offset != prefix || r.DroppedBytes != int64(len(data))-prefix || r.Path != path ||
		!errors.Is(r.Err, ErrCorruptStateFile) {
		t.Fatalf("report %+v: want offset %d, %d bytes dropped", r, prefix, int64(len(data))-prefix)
	}
	assertContents(t, reopenContents(t, s, path), want)
	assertNoTempFiles(t, path)
}

// damageStride is how often the damage tests go through a real open of a
// file on disk (creating files is slow); every case is also checked
// against the parser in memory.
func damageStride() int64 {
	if testing.Short() {
		return 16
	}
	return 4
}

// parseDamage reads data in memory and returns where its damage starts, or
// -1 when it has none.
func parseDamage(t *testing.T, data []byte) int64 {
	t.Helper()
	res, err := readLog(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if res.damage == nil {
		return -1
	}
	if res.damage.offset != res.end {
		t.Fatalf("damage at %d but valid prefix ends at %d", res.damage.offset, res.end)
	}
	return res.damage.offset
}

func TestFileStoreDetectsTruncation(t *testing.T) {
	fx := newCorruptionFixture(t)
	for off := int64(0); off < int64(len(fx.data)); off++ {
		data := fx.data[:off]
		state, boundary := fx.states[off]
		if damage := parseDamage(t, data); boundary != (damage < 0) {
			t.Fatalf("file truncated at %d: damage found at %d", off, damage)
		}
		if off%damageStride() != 0 && !boundary {
			continue
		}

		path, s, err := openDamaged(t, fx.dir, data, nil)
		if boundary {
			// A file cut exactly between records is a valid older file.
			if err != nil {
				t.Fatalf("truncated at boundary %d: %v", off, err)
			}
			assertContents(t, contents(t, s), state)
			_ = s.Close()
			continue
		}
		assertCorrupt(t, err, path, data)
		if off%(5*damageStride()) == 0 || off < headerSize {
			assertRecovered(t, fx, data, off)
		}
	}
}

func TestFileStoreDetectsFlippedBytes(t *testing.T) {
	fx := newCorruptionFixture(t)
	masks := []byte{0xff, 0x01, 0x80}
	for off := range int64(len(fx.data)) {
		for i, mask := range masks {
			data := bytes.Clone(fx.data)
			data[off] ^= mask
			damage := parseDamage(t, data)
			if damage < 0 || damage > off {
				t.Fatalf("byte %d flipped by %#x: damage found at %d", off, mask, damage)
			}
			if off%damageStride() != 0 || int(off/damageStride())%len(masks) != i {
				continue
			}

			path, _, err := openDamaged(t, fx.dir, data, nil)
			assertCorrupt(t, err, path, data)
			if off >= headerSize && off%(5*damageStride()) == 0 {
				assertRecovered(t, fx, data, off)
			}
		}
	}
}

func TestFileStoreDetectsDamage(t *testing.T) {
	fx := newCorruptionFixture(t)
	end := int64(len(fx.data))
	newer := bytes.Clone(fx.data)
	newer[headerSize-1]++

	tests := []struct {
		name        string
		data        []byte
		recoverable bool
		damageAt    int64
	}{
		{"empty file", nil, true, 0},
		{"garbage appended", append(bytes.Clone(fx.data), "garbage after the log"...), true, end},
		{"zeros appended", append(bytes.Clone(fx.data), make([]byte, 100)...), true, end},
		{"another format", []byte("SQLite format 3\x00 and then some pages"), false, 0},
		{"json", []byte(`{"installations": []}`), false, 0},
		{"newer format version", newer, false, 0},
		{"magic only", fileMagic[:], true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, err := openDamaged(t, t.TempDir(), tt.data, nil)
			assertCorrupt(t, err, path, tt.data)

			if tt.recoverable {
				assertRecovered(t, fx, tt.data, tt.damageAt)
				return
			}
			var reports []RecoveryReport
			path, _, err = openDamaged(t, t.TempDir(), tt.data, &reports)
			assertCorrupt(t, err, path, tt.data)
			if len(reports) != 0 {
				t.Fatalf("a file that was not recovered was reported: %+v", reports)
			}
		})
	}
}

func FuzzReadStateFile(f *testing.F) {
	path := filepath.Join(f.TempDir(), "state.db")
	s, err := NewFileInstallationStore(path)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if err := s.Add(context.Background(), testInstallation(i)); err != nil {
			f.Fatal(err)
		}
	}
	if err := s.Delete(context.Background(), testInstallation(1).OAuthID); err != nil {
		f.Fatal(err)
	}
	_ = s.Close()
	valid := readFile(f, path)
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(appendHeader(nil))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := readLog(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("reading from memory failed: %v", err)
		}
		if res.end > int64(len(data)) {
			t.Fatalf("valid prefix %d is longer than the file (%d)", res.end, len(data))
		}
		if (res.damage == nil) != (res.end == int64(len(data)) && len(data) >= headerSize) {
			t.Fatalf("damage %+v with valid prefix %d of %d bytes", res.damage, res.end, len(data))
		}
		for id, e := range res.installs {
			if id == "" || e.inst.OAuthID != id {
				t.Fatalf("installation %q held under %q", e.inst.OAuthID, id)
			}
		}
	})
}

// faults says which file operations fail.
type faults struct {
	failWrite    error
	partialWrite bool // a failing write first writes half its bytes
	failSync     error
	syncOnce     bool // failSync clears after failing once
	failTruncate error
	failRename   error
	failSyncDir  error
	writes       int // counts writes, failed or not
}

// faultFS is a fileSystem whose operations fail on demand.
type faultFS struct {
	base fileSystem

	mu sync.Mutex // guards f
	f  faults
}

func newFaultFS() *faultFS { return &faultFS{base: osFileSystem{}} }

func (f *faultFS) set(fn func(f *faults)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.f)
}

func (f *faultFS) get() faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f
}

func clearFaults(f *faults) { *f = faults{} }

func (f *faultFS) wrap(file stateFile, err error) (stateFile, error) {
	if err != nil {
		return nil, err
	}
	return &faultFile{stateFile: file, fs: f}, nil
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (stateFile, error) {
	return f.wrap(f.base.OpenFile(name, flag, perm))
}

func (f *faultFS) CreateTemp(dir, pattern string) (stateFile, error) {
	return f.wrap(f.base.CreateTemp(dir, pattern))
}

func (f *faultFS) Link(oldname, newname string) error { return f.base.Link(oldname, newname) }

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.get().failRename; err != nil {
		return err
	}
	return f.base.Rename(oldpath, newpath)
}

func (f *faultFS) Remove(name string) error                   { return f.base.Remove(name) }
func (f *faultFS) Stat(name string) (fs.FileInfo, error)      { return f.base.Stat(name) }
func (f *faultFS) ReadDir(name string) ([]fs.DirEntry, error) { return f.base.ReadDir(name) }

func (f *faultFS) SyncDir(dir string) error {
	if err := f.get().failSyncDir; err != nil {
		return err
	}
	return f.base.SyncDir(dir)
}

func (f *faultFS) Lock(file stateFile) error { return f.base.Lock(file.(*faultFile).stateFile) }

type faultFile struct {
	stateFile
	fs *faultFS
}

func (f *faultFile) write(p []byte, write func([]byte) (int, error)) (int, error) {
	f.fs.mu.Lock()
	f.fs.f.writes++
	fail, partial := f.fs.f.failWrite, f.fs.f.partialWrite
	f.fs.mu.Unlock()
	if fail == nil {
		return write(p)
	}
	if partial {
		n, _ := write(p[:len(p)/2])
		return n, fail
	}
	return 0, fail
}

func (f *faultFile) Write(p []byte) (int, error) { return f.write(p, f.stateFile.Write) }

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	return f.write(p, func(b []byte) (int, error) { return f.stateFile.WriteAt(b, off) })
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.f.failSync
	if f.fs.f.syncOnce {
		f.fs.f.failSync = nil
	}
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.stateFile.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.get().failTruncate; err != nil {
		return err
	}
	return f.stateFile.Truncate(size)
}

// faultySetup opens a store over a faultFS holding two installations.
func faultySetup(t *testing.T) (*FileInstallationStore, *faultFS, string) {
	t.Helper()
	fsys := newFaultFS()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path, withFileSystem(fsys))
	for i := range 2 {
		if err := s.Add(context.Background(), testInstallation(i)); err != nil {
			t.Fatal(err)
		}
	}
	return s, fsys, path
}

func TestFileStoreFailedWrites(t *testing.T) {
	enospc := syscall.ENOSPC
	tests := []struct {
		name  string
		fault func(f *faults)
	}{
		{"write fails", func(f *faults) { f.failWrite = enospc }},
		{"write fails part-way", func(f *faults) { f.failWrite, f.partialWrite = enospc, true }},
		{"sync fails", func(f *faults) { f.failSync, f.syncOnce = syscall.EIO, true }},
		{"permission lost", func(f *faults) { f.failWrite = syscall.EACCES }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, fsys, path := faultySetup(t)
			before, beforeFile := contents(t, s), readFile(t, path)

			replaced := testInstallation(0)
			replaced.GroupName = "never stored"
			ops := map[string]func() error{
				"add new":     func() error { return s.Add(ctx, testInstallation(5)) },
				"add replace": func() error { return s.Add(ctx, replaced) },
				"delete":      func() error { return s.Delete(ctx, testInstallation(1).OAuthID) },
			}
			for name, op := range ops {
				fsys.set(tt.fault)
				if err := op(); err == nil {
					t.Fatalf("%s succeeded despite the fault", name)
				}
				assertContents(t, contents(t, s), before)
				if !bytes.Equal(readFile(t, path), beforeFile) {
					t.Fatalf("%s: the failed write changed the file", name)
				}
			}

			fsys.set(clearFaults)
			if err := s.Add(ctx, testInstallation(5)); err != nil {
				t.Fatalf("Add after the fault cleared: %v", err)
			}
			before[testInstallation(5).OAuthID] = *testInstallation(5)
			assertContents(t, reopenContents(t, s, path), before)
		})
	}
}

func TestFileStoreBrokenAfterFailedUndo(t *testing.T) {
	ctx := context.Background()
	s, fsys, path := faultySetup(t)
	before := contents(t, s)

	fsys.set(func(f *faults) {
		f.failWrite, f.partialWrite, f.failTruncate = syscall.ENOSPC, true, syscall.EIO
	})
	if err := s.Add(ctx, testInstallation(5)); err == nil {
		t.Fatal("Add succeeded despite the fault")
	}
	fsys.set(clearFaults)
	if err := s.Add(ctx, testInstallation(6)); err == nil || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Add on a broken store: %v, want an error asking to reopen", err)
	}
	assertContents(t, contents(t, s), before)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The half-written record is found on reopening, and recovery drops it.
	_, err := NewFileInstallationStore(path)
	if !errors.Is(err, ErrCorruptStateFile) {
		t.Fatalf("reopening after a partial write: %v", err)
	}
	r := openTestStore(t, path, WithRecovery(nil))
	assertContents(t, contents(t, r), before)
}

func TestFileStoreFailedCompaction(t *testing.T) {
	tests := []struct {
		name  string
		fault func(f *faults)
	}{
		{"temporary file write fails", func(f *faults) { f.failWrite = syscall.ENOSPC }},
		{"temporary file sync fails", func(f *faults) { f.failSync = syscall.EIO }},
		{"rename fails", func(f *faults) { f.failRename = syscall.EACCES }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, fsys, path := faultySetup(t)
			before, beforeFile := contents(t, s), readFile(t, path)

			fsys.set(tt.fault)
			s.writeMu.Lock()
			err := s.compact()
			s.writeMu.Unlock()
			if err == nil {
				t.Fatal("compaction succeeded despite the fault")
			}
			assertNoTempFiles(t, path)
			if !bytes.Equal(readFile(t, path), beforeFile) {
				t.Fatal("the failed compaction changed the file")
			}

			fsys.set(clearFaults)
			if err := s.Add(context.Background(), testInstallation(5)); err != nil {
				t.Fatalf("Add after a failed compaction: %v", err)
			}
			before[testInstallation(5).OAuthID] = *testInstallation(5)
			assertContents(t, reopenContents(t, s, path), before)
		})
	}
}

func TestFileStoreDirectorySyncFails(t *testing.T) {
	ctx := context.Background()
	s, fsys, path := faultySetup(t)
	before := contents(t, s)

	fsys.set(func(f *faults) { f.failSyncDir = syscall.EIO })
	s.writeMu.Lock()
	err := s.compact()
	s.writeMu.Unlock()
	if err != nil {
		t.Fatalf("compaction: %v", err)
	}
	// The rename may not be durable: writes must wait for a directory sync.
	if err := s.Add(ctx, testInstallation(5)); err == nil {
		t.Fatal("Add succeeded while the directory could not be synced")
	}
	assertContents(t, contents(t, s), before)

	fsys.set(clearFaults)
	if err := s.Add(ctx, testInstallation(5)); err != nil {
		t.Fatalf("Add once the directory syncs: %v", err)
	}
	before[testInstallation(5).OAuthID] = *testInstallation(5)
	assertContents(t, reopenContents(t, s, path), before)
}

func TestFileStoreCreateFails(t *testing.T) {
	fsys := newFaultFS()
	fsys.set(func(f *faults) { f.failSync = syscall.EIO })
	path := filepath.Join(t.TempDir(), "state.db")
	if _, err := NewFileInstallationStore(path, withFileSystem(fsys)); err == nil {
		t.Fatal("store created despite the fault")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a state file was left behind: %v", err)
	}
	assertNoTempFiles(t, path)
}

func TestFileStoreDeleteUnknownWritesNothing(t *testing.T) {
	s, fsys, _ := faultySetup(t)
	fsys.set(func(f *faults) { f.writes = 0 })
	err := s.Delete(context.Background(), testInstallation(9).OAuthID)
	if !errors.Is(err, ErrInstallationNotFound) {
		t.Fatalf("Delete of an unknown oauthId: %v", err)
	}
	if n := fsys.get().writes; n != 0 {
		t.Fatalf("Delete of an unknown oauthId wrote %d times", n)
	}
}

func TestPadToPage(t *testing.T) {
	tests := []struct {
		off     int64
		n       int
		wantPad int
	}{
		{headerSize, 300, 0},
		{4000, 96, 0},
		{4000, 97, 96},
		{4096, 4096, 0},
		{4100, 5000, 0}, // larger than a page: cannot be kept inside one
	}
	for _, tt := range tests {
		got := padToPage(tt.off, make([]byte, tt.n))
		if len(got)-tt.n != tt.wantPad {
			t.Errorf("padToPage(%d, %d bytes) added %d bytes, want %d",
				tt.off, tt.n, len(got)-tt.n, tt.wantPad)
		}
	}
}

func TestFileStoreReadsPadding(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	for i := range 40 { // about 12 KiB: pads at least twice
		if err := s.Add(ctx, testInstallation(i)); err != nil {
			t.Fatal(err)
		}
	}
	want := contents(t, s)
	data := readFile(t, path)
	if !bytes.Contains(data, make([]byte, 8)) {
		t.Fatal("expected padding in the file")
	}
	assertContents(t, reopenContents(t, s, path), want)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func statFile(t testing.TB, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func fileMode(t testing.TB, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestRecoveryCountsDroppedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path)
	var ends []int64
	for i := range 20 {
		if err := s.Add(context.Background(), testInstallation(i)); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, fileSize(t, path))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Flip a byte in the middle of the fifth record: the four before it
	// are kept, the fifteen intact ones after it are dropped with it.
	data := readFile(t, path)
	data[(ends[3]+ends[4])/2] ^= 0xff
	var reports []RecoveryReport
	_, r, err := openDamaged(t, t.TempDir(), data, &reports)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := r.List(context.Background()); len(all) != 4 {
		t.Errorf("recovered %d installations, want 4", len(all))
	}
	if len(reports) != 1 || reports[0].DroppedRecords != 15 {
		t.Fatalf("reports %+v, want one that drops 15 intact records", reports)
	}
}
