package addon

import (
	"path/filepath"
	"testing"
)

func TestFileStoreConformance(t *testing.T) {
	testInstallationStore(t, func(t *testing.T) InstallationStore {
		s, err := NewFileInstallationStore(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
