package addon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testInstallationStore checks that a store keeps the promises of
// [InstallationStore]. open must return a new, empty store each time it is
// called, and arrange with t.Cleanup for whatever closing the store needs.
// The suite assumes nothing about the store's concrete type.
func testInstallationStore(t *testing.T, open func(t *testing.T) InstallationStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s InstallationStore)
	}{
		{"GetUnknown", storeGetUnknown},
		{"RoundTrip", storeRoundTrip},
		{"AddReplaces", storeAddReplaces},
		{"Delete", storeDelete},
		{"DeleteUnknown", storeDeleteUnknown},
		{"List", storeList},
		{"CopiesOnAdd", storeCopiesOnAdd},
		{"CopiesOnGet", storeCopiesOnGet},
		{"CopiesOnList", storeCopiesOnList},
		{"AddInvalid", storeAddInvalid},
		{"Concurrent", storeConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

// fullInstallation returns an installation with every field set. Its times
// are in UTC, without a monotonic reading and with nanoseconds, so a store
// that serializes them must keep them exactly.
func fullInstallation(oauthID string, roomID int) *Installation {
	installed := time.Date(2016, 3, 14, 15, 9, 26, 535897932, time.UTC)
	return &Installation{
		OAuthID:         oauthID,
		OAuthSecret:     "secret-of-" + oauthID,
		CapabilitiesURL: "https://hipchat.example.com/v2/capabilities",
		TokenURL:        "https://hipchat.example.com/v2/oauth/token",
		APIURL:          "https://hipchat.example.com/v2/",
		GroupID:         7,
		GroupName:       "Example & Co",
		RoomID:          roomID,
		InstalledAt:     installed,
		UpdatedAt:       installed.Add(90*time.Minute + 1),
	}
}

// TestFullInstallationSetsEveryField keeps the suite honest when a field is
// added to Installation: the round trip only covers fields that are set.
func TestFullInstallationSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(fullInstallation("id", 42)).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullInstallation leaves %s unset", v.Type().Field(i).Name)
		}
	}
}

// installationDiff names the fields in which got differs from want, or
// returns "" when they are the same. Times compare with Equal.
func installationDiff(got, want *Installation) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	var diffs []string
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		same := reflect.DeepEqual(gf, wf)
		if gt, ok := gf.(time.Time); ok {
			same = gt.Equal(wf.(time.Time))
		}
		if !same {
			// Secrets are test values here, so printing them is fine.
			diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v",
				g.Type().Field(i).Name, gf, wf))
		}
	}
	return strings.Join(diffs, "; ")
}

// mustAdd adds inst to s and fails the test if that fails.
func mustAdd(t *testing.T, s InstallationStore, inst *Installation) {
	t.Helper()
	if err := s.Add(t.Context(), inst); err != nil {
		t.Fatalf("Add(%s): %v", inst.OAuthID, err)
	}
}

// mustGet returns the installation oauthID from s, failing the test if it
// is not there.
func mustGet(t *testing.T, s InstallationStore, oauthID string) *Installation {
	t.Helper()
	inst, err := s.Get(t.Context(), oauthID)
	if err != nil {
		t.Fatalf("Get(%s): %v", oauthID, err)
	}
	if inst == nil {
		t.Fatalf("Get(%s) returned nil without an error", oauthID)
	}
	return inst
}

// wantNotFound fails the test unless s holds nothing under oauthID.
func wantNotFound(t *testing.T, s InstallationStore, oauthID string) {
	t.Helper()
	inst, err := s.Get(t.Context(), oauthID)
	if !errors.Is(err, ErrInstallationNotFound) {
		t.Errorf("Get(%s) error = %v, want one wrapping ErrInstallationNotFound", oauthID, err)
	}
	if inst != nil {
		t.Errorf("Get(%s) returned %v with its error", oauthID, inst)
	}
}

// listed returns s's installations sorted by OAuthID.
func listed(t *testing.T, s InstallationStore) []*Installation {
	t.Helper()
	all, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.SortFunc(all, func(a, b *Installation) int {
		return strings.Compare(a.OAuthID, b.OAuthID)
	})
	return all
}

// wantListed fails the test unless s holds exactly want, in any order.
func wantListed(t *testing.T, s InstallationStore, want ...*Installation) {
	t.Helper()
	got := listed(t, s)
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b *Installation) int {
		return strings.Compare(a.OAuthID, b.OAuthID)
	})
	if len(got) != len(want) {
		t.Fatalf("List returned %v, want %v", got, want)
	}
	for i := range got {
		if d := installationDiff(got[i], want[i]); d != "" {
			t.Errorf("List entry %d: %s", i, d)
		}
	}
}

func storeGetUnknown(t *testing.T, s InstallationStore) {
	wantNotFound(t, s, "never-added")
	mustAdd(t, s, fullInstallation("known", 0))
	wantNotFound(t, s, "never-added")
	wantNotFound(t, s, "")
}

func storeRoundTrip(t *testing.T, s InstallationStore) {
	tests := []struct {
		name   string
		roomID int
		global bool
	}{
		{"global", 0, true},
		{"room", 42, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := fullInstallation("round-trip-"+tt.name, tt.roomID)
			mustAdd(t, s, want)

			got := mustGet(t, s, want.OAuthID)
			if d := installationDiff(got, want); d != "" {
				t.Errorf("Get after Add: %s", d)
			}
			if got.IsGlobal() != tt.global {
				t.Errorf("IsGlobal() = %v, want %v", got.IsGlobal(), tt.global)
			}
		})
	}
	wantListed(t, s, fullInstallation("round-trip-global", 0),
		fullInstallation("round-trip-room", 42))
}

func storeAddReplaces(t *testing.T, s InstallationStore) {
	mustAdd(t, s, fullInstallation("replaced", 42))

	next := fullInstallation("replaced", 0)
	next.OAuthSecret = "rotated"
	next.GroupName = "Renamed"
	next.UpdatedAt = next.UpdatedAt.Add(time.Hour)
	mustAdd(t, s, next)

	if d := installationDiff(mustGet(t, s, "replaced"), next); d != "" {
		t.Errorf("Get after replacing Add: %s", d)
	}
	wantListed(t, s, next)
}

func storeDelete(t *testing.T, s InstallationStore) {
	keep := fullInstallation("kept", 1)
	mustAdd(t, s, keep)
	mustAdd(t, s, fullInstallation("deleted", 2))

	if err := s.Delete(t.Context(), "deleted"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "deleted")
	wantListed(t, s, keep)

	// A deleted oauthId can be installed again.
	again := fullInstallation("deleted", 3)
	mustAdd(t, s, again)
	if d := installationDiff(mustGet(t, s, "deleted"), again); d != "" {
		t.Errorf("Get after Add of a deleted oauthId: %s", d)
	}
}

func storeDeleteUnknown(t *testing.T, s InstallationStore) {
	keep := fullInstallation("kept", 1)
	mustAdd(t, s, keep)

	for _, id := range []string{"never-added", ""} {
		err := s.Delete(t.Context(), id)
		if !errors.Is(err, ErrInstallationNotFound) {
			t.Errorf("Delete(%q) = %v, want an error wrapping ErrInstallationNotFound", id, err)
		}
	}
	if err := s.Delete(t.Context(), "kept"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(t.Context(), "kept"); !errors.Is(err, ErrInstallationNotFound) {
		t.Errorf("second Delete = %v, want an error wrapping ErrInstallationNotFound", err)
	}
	wantListed(t, s)
}

func storeList(t *testing.T, s InstallationStore) {
	if all, err := s.List(t.Context()); err != nil || len(all) != 0 {
		t.Fatalf("List of an empty store = %v, %v; want nothing and no error", all, err)
	}

	var want []*Installation
	for i := range 5 {
		inst := fullInstallation(fmt.Sprintf("listed-%d", i), i*10)
		mustAdd(t, s, inst)
		want = append(want, inst)
	}
	wantListed(t, s, want...)
}

func storeCopiesOnAdd(t *testing.T, s InstallationStore) {
	inst := fullInstallation("copied", 42)
	mustAdd(t, s, inst)

	scribble(inst)
	inst.OAuthID = "copied"
	if d := installationDiff(mustGet(t, s, "copied"), fullInstallation("copied", 42)); d != "" {
		t.Errorf("changing the value given to Add changed the store: %s", d)
	}
}

func storeCopiesOnGet(t *testing.T, s InstallationStore) {
	mustAdd(t, s, fullInstallation("copied", 42))

	first := mustGet(t, s, "copied")
	scribble(first)
	second := mustGet(t, s, "copied")
	if first == second {
		t.Fatal("two Gets returned the same pointer")
	}
	if d := installationDiff(second, fullInstallation("copied", 42)); d != "" {
		t.Errorf("changing the value Get returned changed the store: %s", d)
	}
}

func storeCopiesOnList(t *testing.T, s InstallationStore) {
	want := []*Installation{fullInstallation("a", 0), fullInstallation("b", 42)}
	for _, inst := range want {
		mustAdd(t, s, inst)
	}

	for _, inst := range listed(t, s) {
		scribble(inst)
	}
	wantListed(t, s, want...)
}

// scribble changes every field of inst.
func scribble(inst *Installation) {
	*inst = Installation{
		OAuthID: "scribbled", OAuthSecret: "scribbled", CapabilitiesURL: "scribbled",
		TokenURL: "scribbled", APIURL: "scribbled", GroupID: -1, GroupName: "scribbled",
		RoomID: -1, InstalledAt: time.Unix(1, 0), UpdatedAt: time.Unix(2, 0),
	}
}

func storeAddInvalid(t *testing.T, s InstallationStore) {
	keep := fullInstallation("kept", 0)
	mustAdd(t, s, keep)

	if err := s.Add(t.Context(), nil); err == nil {
		t.Error("Add(nil) succeeded")
	}
	if err := s.Add(t.Context(), fullInstallation("", 42)); err == nil {
		t.Error("Add of an installation without OAuthID succeeded")
	}
	wantNotFound(t, s, "")
	wantListed(t, s, keep)
}

// Shape of the concurrency check: each worker owns some oauthIds that only it
// touches, and all share a few more. On shared ids only the absence of
// errors other than not-found and of torn values can be checked; on owned
// ids every result is known, and so is the final state.
const (
	concurrentWorkers = 8
	ownedPerWorker    = 4
	sharedIDs         = 3
)

func storeConcurrent(t *testing.T, s InstallationStore) {
	ops := 60
	if testing.Short() {
		ops = 15
	}

	var wg sync.WaitGroup
	final := make([]map[string]*Installation, concurrentWorkers)
	for w := range concurrentWorkers {
		wg.Go(func() { final[w] = storeWorker(t, s, w, ops) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var want []*Installation
	for w, owned := range final {
		for i := range ownedPerWorker {
			id := ownedID(w, i)
			if inst := owned[id]; inst != nil {
				want = append(want, inst)
				if d := installationDiff(mustGet(t, s, id), inst); d != "" {
					t.Errorf("final Get(%s): %s", id, d)
				}
			} else {
				wantNotFound(t, s, id)
			}
		}
	}
	checkFinalList(t, s, want)
}

// checkFinalList checks that List holds exactly the owned installations in
// want, each once, besides whichever shared ones survived.
func checkFinalList(t *testing.T, s InstallationStore, want []*Installation) {
	t.Helper()
	var owned []*Installation
	all := listed(t, s)
	for i, inst := range all {
		if i > 0 && inst.OAuthID == all[i-1].OAuthID {
			t.Errorf("List returned %s twice", inst.OAuthID)
		}
		if strings.HasPrefix(inst.OAuthID, "shared-") {
			checkUntorn(t, inst)
			continue
		}
		owned = append(owned, inst)
	}
	if len(owned) != len(want) {
		t.Fatalf("List holds %d owned installations, want %d", len(owned), len(want))
	}
	// Both are sorted by OAuthID: ownedID pads its numbers.
	for i := range owned {
		if d := installationDiff(owned[i], want[i]); d != "" {
			t.Errorf("final List entry %s: %s", owned[i].OAuthID, d)
		}
	}
}

// storeWorker does ops random operations on its own and the shared oauthIds,
// checking every result it can predict, and returns what it last left under
// each id it owns (nil when deleted).
func storeWorker(t *testing.T, s InstallationStore, w, ops int) map[string]*Installation {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(uint64(w), 2016))
	owned := make(map[string]*Installation)
	for n := range ops {
		id := ownedID(w, rng.IntN(ownedPerWorker))
		switch rng.IntN(4) {
		case 0, 1:
			inst := workerInstallation(id, w, n)
			if err := s.Add(ctx, inst); err != nil {
				t.Errorf("Add(%s): %v", id, err)
			}
			owned[id] = inst
		case 2:
			err := s.Delete(ctx, id)
			if owned[id] == nil && !errors.Is(err, ErrInstallationNotFound) {
				t.Errorf("Delete(%s) of a deleted id = %v, want not found", id, err)
			} else if owned[id] != nil && err != nil {
				t.Errorf("Delete(%s): %v", id, err)
			}
			owned[id] = nil
		case 3:
			checkOwned(ctx, t, s, id, owned[id])
		}
		sharedOp(ctx, t, s, rng, w, n)
	}
	return owned
}

// ownedID is the n-th oauthId that worker w owns.
func ownedID(w, n int) string { return fmt.Sprintf("owned-%02d-%02d", w, n) }

// workerInstallation is what worker w adds under id in its n-th operation.
// Its GroupName repeats GroupID and RoomID, so a torn value shows.
func workerInstallation(id string, w, n int) *Installation {
	inst := fullInstallation(id, n)
	inst.GroupID = w
	inst.GroupName = fmt.Sprintf("worker %d op %d", w, n)
	return inst
}

// checkOwned checks a Get of an id only the calling worker touches.
func checkOwned(ctx context.Context, t *testing.T, s InstallationStore, id string,
	want *Installation) {
	got, err := s.Get(ctx, id)
	switch {
	case want == nil && !errors.Is(err, ErrInstallationNotFound):
		t.Errorf("Get(%s) of a deleted id = %v, %v; want not found", id, got, err)
	case want != nil && err != nil:
		t.Errorf("Get(%s): %v", id, err)
	case want != nil:
		if d := installationDiff(got, want); d != "" {
			t.Errorf("Get(%s): %s", id, d)
		}
	}
}

// sharedOp does one random operation on an oauthId every worker uses.
func sharedOp(ctx context.Context, t *testing.T, s InstallationStore, rng *rand.Rand, w, n int) {
	id := fmt.Sprintf("shared-%d", rng.IntN(sharedIDs))
	switch rng.IntN(4) {
	case 0:
		if err := s.Add(ctx, workerInstallation(id, w, n)); err != nil {
			t.Errorf("Add(%s): %v", id, err)
		}
	case 1:
		err := s.Delete(ctx, id)
		if err != nil && !errors.Is(err, ErrInstallationNotFound) {
			t.Errorf("Delete(%s): %v", id, err)
		}
	case 2:
		inst, err := s.Get(ctx, id)
		if err != nil && !errors.Is(err, ErrInstallationNotFound) {
			t.Errorf("Get(%s): %v", id, err)
		}
		if err == nil {
			checkUntorn(t, inst)
		}
	case 3:
		all, err := s.List(ctx)
		if err != nil {
			t.Errorf("List: %v", err)
		}
		for _, inst := range all {
			checkUntorn(t, inst)
		}
	}
}

// checkUntorn checks that inst is whole, as some worker wrote it.
func checkUntorn(t *testing.T, inst *Installation) {
	t.Helper()
	var w, n int
	if _, err := fmt.Sscanf(inst.GroupName, "worker %d op %d", &w, &n); err != nil {
		t.Errorf("installation %s has GroupName %q", inst.OAuthID, inst.GroupName)
		return
	}
	if d := installationDiff(inst, workerInstallation(inst.OAuthID, w, n)); d != "" {
		t.Errorf("installation %s is torn: %s", inst.OAuthID, d)
	}
}
