package addon

import "testing"

var _ InstallationStore = (*MemoryInstallationStore)(nil)

func TestMemoryInstallationStore(t *testing.T) {
	testInstallationStore(t, func(*testing.T) InstallationStore {
		return NewMemoryInstallationStore()
	})
}
