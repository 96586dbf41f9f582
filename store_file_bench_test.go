package addon

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var benchSizes = []int{10, 1000, 10000, 100000}

// populateStateFile writes a state file holding n installations in one
// go, as a compaction does, rather than by n durable Adds.
func populateStateFile(b *testing.B, path string, n int) {
	b.Helper()
	s, err := NewFileInstallationStore(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for i := range n {
		inst := testInstallation(i)
		rec := recordOf(opPut, inst)
		payload, err := s.encode(&rec)
		if err != nil {
			b.Fatal(err)
		}
		size := int64(frameHeaderSize + len(payload))
		s.installs[inst.OAuthID] = fileEntry{inst: inst, size: size}
		s.liveBytes += size
	}
	if err := s.compact(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFileStoreAdd measures one durable Add, replacing one of n
// installations already stored.
func BenchmarkFileStoreAdd(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("installs=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state.db")
			populateStateFile(b, path, n)
			s := openTestStore(b, path)
			ctx := context.Background()

			for i := 0; b.Loop(); i++ {
				inst := testInstallation(i % n)
				inst.UpdatedAt = inst.UpdatedAt.Add(time.Duration(i) * time.Second)
				if err := s.Add(ctx, inst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBoltPut measures the same write in bbolt: one Put of the same
// gob-encoded record in its own transaction, fsynced as bbolt does by
// default, with n records already stored.
func BenchmarkBoltPut(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("installs=%d", n), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "state.bolt"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			bucket := []byte("installations")
			var buf bytes.Buffer
			enc := gob.NewEncoder(&buf)
			if err := enc.Encode(&fileRecord{}); err != nil { // as the file store does
				b.Fatal(err)
			}
			put := func(tx *bolt.Tx, i int) error {
				inst := testInstallation(i % n)
				inst.UpdatedAt = inst.UpdatedAt.Add(time.Duration(i) * time.Second)
				buf.Reset()
				rec := recordOf(opPut, inst)
				if err := enc.Encode(&rec); err != nil {
					return err
				}
				return tx.Bucket(bucket).Put([]byte(inst.OAuthID), buf.Bytes())
			}

			err = db.Update(func(tx *bolt.Tx) error {
				if _, err := tx.CreateBucket(bucket); err != nil {
					return err
				}
				for i := range n {
					if err := put(tx, i); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}

			for i := 0; b.Loop(); i++ {
				if err := db.Update(func(tx *bolt.Tx) error { return put(tx, i) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFileStoreOpen measures opening and loading a state file of n
// installations, and reports the heap that the loaded store holds per
// installation.
func BenchmarkFileStoreOpen(b *testing.B) {
	const n = 10000
	b.Run(fmt.Sprintf("installs=%d", n), func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "state.db")
		populateStateFile(b, path, n)

		for b.Loop() {
			s, err := NewFileInstallationStore(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
		}

		b.StopTimer()
		b.ReportMetric(heapPerInstallation(b, path, n), "bytes/installation")
	})
}

// heapPerInstallation loads the state file and returns the heap it keeps
// alive, divided by n.
func heapPerInstallation(b *testing.B, path string, n int) float64 {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := NewFileInstallationStore(path)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	_ = s.Close()
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
