package addontest

import (
	"net/http"
	"strings"
	"time"
)

// Fault makes the fake misbehave on the next requests whose path starts
// with Path, before they reach the real endpoint. Faults are tried in the
// order they were injected; the first one that matches a request applies.
type Fault struct {
	// Path is a prefix of the request path, such as [TokenPath] or
	// [RoomPath]; empty matches every request.
	Path string
	// Method, when set, limits the fault to requests with that method.
	Method string
	// Times is how many requests the fault applies to; zero means one, a
	// negative number means every matching request until [Server.ClearFaults].
	Times int
	// Latency delays the response. The delay ends early when the client
	// gives up or the server closes.
	Latency time.Duration
	// Status, when not zero, answers the request with that status instead
	// of serving it; zero serves it normally after the latency.
	Status int
	// Body is the response body; empty gives a HipChat-style JSON error.
	Body string
	// RateLimitReset, for a 429, is sent as X-Ratelimit-Reset (Unix
	// seconds), with X-Ratelimit-Remaining 0. Zero sends now plus
	// [RateLimitWindow].
	RateLimitReset time.Time
}

// faultState is an injected fault and its remaining uses.
type faultState struct {
	Fault
	left int // negative: unlimited
}

// InjectFault adds f; it applies to the next requests matching it.
func (s *Server) InjectFault(f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: left})
}

// ClearFaults removes the faults that have not yet been used up.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault finds, uses up and returns the fault for r, or false.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.HasPrefix(r.URL.Path, f.Path) || (f.Method != "" && f.Method != r.Method) {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		if f.left == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// injectFaults wraps next with the fault injection.
func (s *Server) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := s.takeFault(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if !s.wait(r.Context(), f.Latency) {
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable",
				"request abandoned")
			return
		}
		if f.Status == 0 {
			next.ServeHTTP(w, r)
			return
		}
		s.writeFault(w, f)
	})
}

// writeFault answers with the fault's status.
func (s *Server) writeFault(w http.ResponseWriter, f Fault) {
	if f.Status == http.StatusTooManyRequests {
		reset := f.RateLimitReset
		if reset.IsZero() {
			reset = s.now().Add(RateLimitWindow)
		}
		setRateHeaders(w.Header(), s.rateLimit, 0, reset)
	}
	if f.Body == "" {
		writeError(w, f.Status, http.StatusText(f.Status), "injected fault")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}

// FaultsPending returns how many injected faults are not yet used up.
func (s *Server) FaultsPending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}
