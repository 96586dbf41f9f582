package addon

import (
	"context"
	"fmt"
	"sync"
)

// MemoryInstallationStore is an [InstallationStore] that keeps installations
// in memory only: everything is lost when the process ends. It suits tests
// and add-ons that can ask their users to reinstall. It is safe for
// concurrent use.
type MemoryInstallationStore struct {
	mu            sync.RWMutex // guards installations
	installations map[string]*Installation
}

// NewMemoryInstallationStore returns an empty in-memory store.
func NewMemoryInstallationStore() *MemoryInstallationStore {
	return &MemoryInstallationStore{installations: make(map[string]*Installation)}
}

// Get implements [InstallationStore].
func (s *MemoryInstallationStore) Get(_ context.Context, oauthID string) (*Installation, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	inst, ok := s.installations[oauthID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrInstallationNotFound, oauthID)
	}
	return inst.Clone(), nil
}

// Add implements [InstallationStore].
func (s *MemoryInstallationStore) Add(_ context.Context, inst *Installation) error {
	if inst == nil || inst.OAuthID == "" {
		return fmt.Errorf("addon: cannot store an installation without an oauthId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations[inst.OAuthID] = inst.Clone()
	return nil
}

// Delete implements [InstallationStore].
func (s *MemoryInstallationStore) Delete(_ context.Context, oauthID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.installations[oauthID]; !ok {
		return fmt.Errorf("%w: %s", ErrInstallationNotFound, oauthID)
	}
	delete(s.installations, oauthID)
	return nil
}

// List implements [InstallationStore].
func (s *MemoryInstallationStore) List(_ context.Context) ([]*Installation, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Installation, 0, len(s.installations))
	for _, inst := range s.installations {
		out = append(out, inst.Clone())
	}
	return out, nil
}
