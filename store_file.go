package addon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCorruptStateFile is wrapped by the error that [NewFileInstallationStore]
// returns when the state file is damaged or is not a state file at all. The
// message names the file, the offset and the record where the damage
// starts. The store never replaces such a file by itself; see
// [WithRecovery].
var ErrCorruptStateFile = errors.New("addon: corrupt state file")

// ErrStateFileLocked is wrapped by the error that [NewFileInstallationStore]
// returns at once when another process, or another open store in this
// process, holds the state file.
var ErrStateFileLocked = errors.New("addon: state file is locked by another process")

var errStoreClosed = errors.New("addon: file installation store is closed")

// The state file is a header followed by a log of frames:
//
//	header: magic (8 bytes) | format version (uint32, big endian)
//	frame:  kind (1 byte) | payload length (uint32) | CRC-32C | payload
//
// The CRC-32C covers the kind, the length and the payload. A schema frame
// holds the gob type definitions that the record frames after it use (each
// process that appends starts with one); a record frame holds one gob-encoded
// fileRecord. A padding frame is a zero byte followed by zeros up to the
// next multiple of pagePadding: appends never let a small frame cross such a
// boundary, so that a process killed during its single write leaves whole
// frames behind.
const (
	fileFormatVersion = 1
	headerSize        = 12
	frameHeaderSize   = 9
	maxPayloadSize    = 1 << 20
	pagePadding       = 4096

	kindPadding = 0
	kindSchema  = 1
	kindRecord  = 2

	opPut    = 1
	opDelete = 2
)

var fileMagic = [8]byte{0x89, 'H', 'C', 'I', 'N', 'S', 'T', '\n'}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// fileRecord is one entry of the state file's log. It mirrors Installation
// field by field, so that the file format does not change when that Go type
// does; gob matches fields by name.
type fileRecord struct {
	Op              uint8
	OAuthID         string
	OAuthSecret     string
	CapabilitiesURL string
	TokenURL        string
	APIURL          string
	GroupID         int64
	GroupName       string
	RoomID          int64
	InstalledAt     time.Time
	UpdatedAt       time.Time
}

func recordOf(op uint8, inst *Installation) fileRecord {
	return fileRecord{
		Op:              op,
		OAuthID:         inst.OAuthID,
		OAuthSecret:     inst.OAuthSecret,
		CapabilitiesURL: inst.CapabilitiesURL,
		TokenURL:        inst.TokenURL,
		APIURL:          inst.APIURL,
		GroupID:         int64(inst.GroupID),
		GroupName:       inst.GroupName,
		RoomID:          int64(inst.RoomID),
		InstalledAt:     inst.InstalledAt,
		UpdatedAt:       inst.UpdatedAt,
	}
}

func (r *fileRecord) installation() *Installation {
	return &Installation{
		OAuthID:         r.OAuthID,
		OAuthSecret:     r.OAuthSecret,
		CapabilitiesURL: r.CapabilitiesURL,
		TokenURL:        r.TokenURL,
		APIURL:          r.APIURL,
		GroupID:         int(r.GroupID),
		GroupName:       r.GroupName,
		RoomID:          int(r.RoomID),
		InstalledAt:     r.InstalledAt,
		UpdatedAt:       r.UpdatedAt,
	}
}

// RecoveryReport tells what [WithRecovery] dropped from a damaged state
// file.
type RecoveryReport struct {
	// Path is the state file.
	Path string
	// Offset is where the damage starts; everything from there to the end
	// of the file was dropped.
	Offset int64
	// DroppedBytes is the number of bytes dropped.
	DroppedBytes int64
	// KeptRecords is the number of records read before the damage.
	KeptRecords int
	// DroppedRecords is the number of intact records found after the
	// damage, which were dropped with it. Damage in the middle of the file
	// drops every record after it, however many are intact.
	DroppedRecords int
	// Err describes the damage; it wraps ErrCorruptStateFile.
	Err error
}

// FileStoreOption configures [NewFileInstallationStore].
type FileStoreOption interface {
	applyFileStore(*fileStoreConfig)
}

type fileStoreOptionFunc func(*fileStoreConfig)

func (f fileStoreOptionFunc) applyFileStore(c *fileStoreConfig) { f(c) }

type fileStoreConfig struct {
	fs             fileSystem
	logger         AddonLogger
	recover        bool
	report         func(RecoveryReport)
	compactFactor  int64
	compactMinSize int64
}

// WithRecovery lets [NewFileInstallationStore] open a damaged state file by
// keeping its longest valid prefix: the records before the first damaged
// byte. Everything from there on is dropped for good, so copy the file
// first if it matters. report, when not nil, is called once, before
// NewFileInstallationStore returns, with what was dropped.
//
// A file whose header is not this store's (another format, or a newer
// format version) is never recovered: opening it still fails, and the file
// is left as it is.
func WithRecovery(report func(RecoveryReport)) FileStoreOption {
	return fileStoreOptionFunc(func(c *fileStoreConfig) {
		c.recover = true
		c.report = report
	})
}

// WithFileStoreLogger sets where the store logs what it cannot return as an
// error, such as a failed background compaction. The default discards it.
func WithFileStoreLogger(l AddonLogger) FileStoreOption {
	return fileStoreOptionFunc(func(c *fileStoreConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// withFileSystem replaces the file operations, so tests can make them fail.
func withFileSystem(fsys fileSystem) FileStoreOption {
	return fileStoreOptionFunc(func(c *fileStoreConfig) { c.fs = fsys })
}

// withCompaction sets when the log is compacted: once it is larger than
// both factor times the live data and minSize bytes.
func withCompaction(factor, minSize int64) FileStoreOption {
	return fileStoreOptionFunc(func(c *fileStoreConfig) {
		c.compactFactor = factor
		c.compactMinSize = minSize
	})
}

// FileInstallationStore is an [InstallationStore] kept in one local file,
// serialised with encoding/gob. Reads are served from memory; every Add and
// Delete that returns nil has been written and fsynced first. It is safe for
// concurrent use.
//
// The file is an append-only log: one write costs the same however many
// installations there are. Once the log grows past twice the live data (and
// at least 1 MiB), it is rewritten in the background to a temporary file
// that then replaces it; writes go on meanwhile, and wait only for the
// final rename.
//
// The file and its temporary files are created with mode 0600. The store
// holds an advisory lock on the file until Close, so a second process
// opening the same file fails with ErrStateFileLocked. File locking works
// only on Linux, macOS and the BSDs; elsewhere, and on network file
// systems, nothing stops two processes from writing the same file. Use a
// local disk.
type FileInstallationStore struct {
	path   string
	cfg    fileStoreConfig
	closed atomic.Bool
	wg     sync.WaitGroup // background compactions

	writeMu sync.Mutex // guards the fields up to mu, and serialises writes
	f       stateFile
	// size is the length of the file's valid content: where the next
	// append goes.
	size int64
	// liveBytes is the size of the live installations' frames.
	liveBytes     int64
	schemaInFile  bool // this process has written its schema frame to f
	enc           *gob.Encoder
	encBuf        bytes.Buffer
	schema        []byte
	broken        error // set when a failed write could not be undone
	needDirSync   bool  // a rename is not known to be durable yet
	compacting    bool
	nextCompactAt int64
	// catchUp collects the record frames appended while a background
	// compaction writes its snapshot, when catchingUp is set.
	catchUp    []byte
	catchingUp bool

	// afterSnapshot, when set by a test, runs while a background
	// compaction writes its snapshot.
	afterSnapshot func()

	mu       sync.RWMutex // guards installs; writers also hold writeMu
	installs map[string]fileEntry
}

// fileEntry is an installation held in memory, with the size of its frame
// in the file. inst is never modified once stored.
type fileEntry struct {
	inst *Installation
	size int64
}

// NewFileInstallationStore opens the state file at path, creating it (but
// not its directory) when it does not exist, and loads it into memory. It
// returns an error wrapping ErrStateFileLocked when another store holds
// the file, and one wrapping ErrCorruptStateFile when the file is damaged or
// of another format, unless [WithRecovery] is given.
//
// The store must be closed with Close to release the file.
func NewFileInstallationStore(path string, opts ...FileStoreOption) (*FileInstallationStore, error) {
	cfg := fileStoreConfig{
		fs:             osFileSystem{},
		logger:         discardLogger(),
		compactFactor:  2,
		compactMinSize: 1 << 20,
	}
	for _, o := range opts {
		o.applyFileStore(&cfg)
	}
	s := &FileInstallationStore{
		path:     path,
		cfg:      cfg,
		installs: make(map[string]fileEntry),
	}
	s.initEncoder()
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// initEncoder primes the encoder with a zero record, so that every later
// Encode emits only a value, and keeps what priming emitted as the schema.
func (s *FileInstallationStore) initEncoder() {
	s.enc = gob.NewEncoder(&s.encBuf)
	if err := s.enc.Encode(&fileRecord{}); err != nil {
		panic("addon: cannot encode the state file record: " + err.Error())
	}
	s.schema = bytes.Clone(s.encBuf.Bytes())
	s.encBuf.Reset()
}

// Get implements [InstallationStore]. It reads from memory only.
func (s *FileInstallationStore) Get(_ context.Context, oauthID string) (*Installation, error) {
	if s.closed.Load() {
		return nil, errStoreClosed
	}
	s.mu.RLock()
	e, ok := s.installs[oauthID]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrInstallationNotFound, oauthID)
	}
	return e.inst.Clone(), nil
}

// List implements [InstallationStore]. It reads from memory only.
func (s *FileInstallationStore) List(_ context.Context) ([]*Installation, error) {
	if s.closed.Load() {
		return nil, errStoreClosed
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Installation, 0, len(s.installs))
	for _, e := range s.installs {
		out = append(out, e.inst.Clone())
	}
	return out, nil
}

// Add implements [InstallationStore]. When it returns nil the installation
// is on disk. When it returns an error, neither the file nor the store has
// changed (or, if a failed write could not be undone, every later write
// fails until the store is reopened). It does not start once ctx is done.
func (s *FileInstallationStore) Add(ctx context.Context, inst *Installation) error {
	if inst == nil || inst.OAuthID == "" {
		return errors.New("addon: cannot store an installation without an oauthId")
	}
	c := inst.Clone()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("addon: add installation %s: %w", c.OAuthID, err)
	}
	size, err := s.appendRecord(recordOf(opPut, c))
	if err != nil {
		return fmt.Errorf("addon: add installation %s: %w", c.OAuthID, err)
	}

	s.mu.Lock()
	old := s.installs[c.OAuthID]
	s.installs[c.OAuthID] = fileEntry{inst: c, size: size}
	s.mu.Unlock()
	s.liveBytes += size - old.size
	s.maybeCompact()
	return nil
}

// Delete implements [InstallationStore]. Durability and failures are as
// for Add; deleting an unknown oauthId writes nothing.
func (s *FileInstallationStore) Delete(ctx context.Context, oauthID string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("addon: delete installation %s: %w", oauthID, err)
	}
	old, ok := s.installs[oauthID] // writers are excluded by writeMu
	if !ok {
		return fmt.Errorf("%w: %s", ErrInstallationNotFound, oauthID)
	}
	if _, err := s.appendRecord(fileRecord{Op: opDelete, OAuthID: oauthID}); err != nil {
		return fmt.Errorf("addon: delete installation %s: %w", oauthID, err)
	}

	s.mu.Lock()
	delete(s.installs, oauthID)
	s.mu.Unlock()
	s.liveBytes -= old.size
	s.maybeCompact()
	return nil
}

// Close waits for a running compaction, then closes the file and releases
// its lock. Later calls return an error; Close itself may be called again.
func (s *FileInstallationStore) Close() error {
	s.writeMu.Lock()
	if s.closed.Load() {
		s.writeMu.Unlock()
		return nil
	}
	s.closed.Store(true)
	err := s.f.Close()
	s.writeMu.Unlock()

	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("addon: close state file: %w", err)
	}
	return nil
}

// writable reports why a write must not start. s.writeMu must be held.
func (s *FileInstallationStore) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errStoreClosed
	}
	if s.broken != nil {
		return s.broken
	}
	if s.needDirSync {
		if err := s.cfg.fs.SyncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("sync directory of %s: %w", s.path, err)
		}
		s.needDirSync = false
	}
	return nil
}

// encode returns rec's gob value, valid until the next call. s.writeMu must
// be held.
func (s *FileInstallationStore) encode(rec *fileRecord) ([]byte, error) {
	s.encBuf.Reset()
	if err := s.enc.Encode(rec); err != nil {
		return nil, err
	}
	if s.encBuf.Len() > maxPayloadSize {
		return nil, fmt.Errorf("record of %d bytes is too large", s.encBuf.Len())
	}
	return s.encBuf.Bytes(), nil
}

// appendRecord writes rec at the end of the log and fsyncs it, and returns
// the size of its frame. On error the file is as it was. s.writeMu must be
// held.
func (s *FileInstallationStore) appendRecord(rec fileRecord) (int64, error) {
	payload, err := s.encode(&rec)
	if err != nil {
		return 0, err
	}
	var buf []byte
	if !s.schemaInFile {
		buf = appendFrame(buf, kindSchema, s.schema)
	}
	start := len(buf)
	buf = appendFrame(buf, kindRecord, payload)
	frame := buf[start:]
	buf = padToPage(s.size, buf)

	if err := s.writeAt(buf); err != nil {
		return 0, err
	}
	s.schemaInFile = true
	if s.catchingUp {
		s.catchUp = append(s.catchUp, frame...)
	}
	return int64(len(frame)), nil
}

// writeAt appends buf at s.size and fsyncs. If that fails it truncates the
// file back; if even that fails the store is marked broken.
func (s *FileInstallationStore) writeAt(buf []byte) error {
	_, err := s.f.WriteAt(buf, s.size)
	if err == nil {
		err = s.f.Sync()
	}
	if err == nil {
		s.size += int64(len(buf))
		return nil
	}

	undo := s.f.Truncate(s.size)
	if undo == nil {
		undo = s.f.Sync()
	}
	if undo != nil {
		s.broken = fmt.Errorf("state file %s may hold a partial write, reopen the store: %w",
			s.path, undo)
		s.cfg.logger.Errorf("addon: %v", s.broken)
	}
	return fmt.Errorf("write state file %s: %w", s.path, err)
}

// appendFrame appends one frame holding payload to buf.
func appendFrame(buf []byte, kind byte, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, kind)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	crc := crc32.Update(0, crcTable, buf[start:])
	crc = crc32.Update(crc, crcTable, payload)
	buf = binary.BigEndian.AppendUint32(buf, crc)
	return append(buf, payload...)
}

// padToPage prefixes buf, to be written at offset off, with a padding frame
// when that keeps buf from crossing a page boundary.
func padToPage(off int64, buf []byte) []byte {
	inPage := int(off % pagePadding)
	if len(buf) > pagePadding || inPage+len(buf) <= pagePadding || inPage == 0 {
		return buf
	}
	padded := make([]byte, pagePadding-inPage, pagePadding-inPage+len(buf))
	return append(padded, buf...)
}

// maybeCompact starts a background compaction when the log has grown too
// large. s.writeMu must be held.
func (s *FileInstallationStore) maybeCompact() {
	if s.compacting || !s.needsCompaction() {
		return
	}
	s.compacting = true
	s.wg.Add(1)
	go s.compactInBackground()
}

func (s *FileInstallationStore) needsCompaction() bool {
	live := headerSize + frameHeaderSize + int64(len(s.schema)) + s.liveBytes
	limit := max(s.cfg.compactFactor*live, s.cfg.compactMinSize)
	return s.size > limit && s.size >= s.nextCompactAt
}

// compactInBackground compacts without holding s.writeMu while it writes
// the snapshot: writes go on meanwhile, into the old file, and are copied
// to the new one before it replaces the old.
func (s *FileInstallationStore) compactInBackground() {
	defer s.wg.Done()
	s.writeMu.Lock()
	if s.closed.Load() || s.broken != nil {
		s.compacting = false
		s.writeMu.Unlock()
		return
	}
	snapshot := s.liveInstallations()
	s.catchUp, s.catchingUp = nil, true
	s.writeMu.Unlock()

	if s.afterSnapshot != nil {
		s.afterSnapshot()
	}
	tmp, size, err := s.writeSnapshot(snapshot)

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	catchUp := s.catchUp
	s.catchUp, s.catchingUp, s.compacting = nil, false, false
	switch {
	case err != nil:
	case s.closed.Load():
		err = errStoreClosed
	case s.broken != nil:
		err = s.broken
	default:
		err = s.replaceWith(tmp, size, catchUp)
	}
	if err != nil {
		s.discardTemp(tmp)
		// Try again once the log has grown by as much again.
		s.nextCompactAt = 2 * s.size
		if !s.closed.Load() {
			s.cfg.logger.Warnf("addon: compacting state file %s failed: %v", s.path, err)
		}
	}
}

// compact rewrites the state file with s.writeMu held throughout. Until the
// new file replaces the old, the old one is untouched; on error the
// temporary file is removed.
func (s *FileInstallationStore) compact() error {
	tmp, size, err := s.writeSnapshot(s.liveInstallations())
	if err == nil {
		err = s.replaceWith(tmp, size, nil)
	}
	if err != nil {
		s.discardTemp(tmp)
	}
	return err
}

// liveInstallations returns the installations held. s.writeMu must be held.
func (s *FileInstallationStore) liveInstallations() []*Installation {
	out := make([]*Installation, 0, len(s.installs))
	for _, e := range s.installs {
		out = append(out, e.inst) // never modified once stored
	}
	return out
}

func (s *FileInstallationStore) discardTemp(tmp stateFile) {
	if tmp != nil {
		_ = tmp.Close()
		_ = s.cfg.fs.Remove(tmp.Name())
	}
}

// replaceWith appends catchUp (the frames written to the old file since the
// snapshot) to the temporary file tmp of the given size, fsyncs it and
// renames it over the state file. s.writeMu must be held.
func (s *FileInstallationStore) replaceWith(tmp stateFile, size int64, catchUp []byte) error {
	if len(catchUp) > 0 {
		if _, err := tmp.WriteAt(catchUp, size); err != nil {
			return err
		}
		if err := tmp.Sync(); err != nil {
			return err
		}
		size += int64(len(catchUp))
	}
	if err := s.cfg.fs.Lock(tmp); err != nil {
		return err
	}
	if err := s.cfg.fs.Rename(tmp.Name(), s.path); err != nil {
		return err
	}

	// The new file is in place: switch to it. Its content equals the old
	// one's, so a crash before the directory is synced loses nothing, but
	// appends must wait until it is.
	_ = s.f.Close()
	s.f, s.size, s.schemaInFile = tmp, size, true
	s.nextCompactAt = 0
	if err := s.cfg.fs.SyncDir(filepath.Dir(s.path)); err != nil {
		s.needDirSync = true
		s.cfg.logger.Warnf("addon: sync directory of %s: %v", s.path, err)
	}
	return nil
}

// createTemp creates an empty temporary file with mode 0600 beside the
// state file.
func (s *FileInstallationStore) createTemp() (stateFile, error) {
	tmp, err := s.cfg.fs.CreateTemp(filepath.Dir(s.path), tempPrefix(s.path)+"*")
	if err != nil {
		return nil, fmt.Errorf("create temporary state file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		s.discardTemp(tmp)
		return nil, fmt.Errorf("create temporary state file: %w", err)
	}
	return tmp, nil
}

func tempPrefix(path string) string { return filepath.Base(path) + ".tmp-" }

// writeSnapshot writes a whole state file holding insts to a new temporary
// file, fsyncs it, and returns it open with its size. It uses an encoder of
// its own, so it needs no lock; it stops early when the store is closed.
// On error no temporary file is left.
func (s *FileInstallationStore) writeSnapshot(
	insts []*Installation,
) (_ stateFile, _ int64, err error) {
	tmp, err := s.createTemp()
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			s.discardTemp(tmp)
		}
	}()

	var encBuf bytes.Buffer
	enc := gob.NewEncoder(&encBuf)
	if err := enc.Encode(&fileRecord{}); err != nil { // emits the schema
		return nil, 0, err
	}
	w := &countingWriter{w: tmp}
	bw := bufio.NewWriterSize(w, 64<<10)
	frame := appendFrame(appendHeader(nil), kindSchema, encBuf.Bytes())
	if _, err := bw.Write(frame); err != nil {
		return nil, 0, err
	}
	for i, inst := range insts {
		if i%4096 == 0 && s.closed.Load() {
			return nil, 0, errStoreClosed
		}
		encBuf.Reset()
		rec := recordOf(opPut, inst)
		if err := enc.Encode(&rec); err != nil {
			return nil, 0, err
		}
		if _, err := bw.Write(appendFrame(frame[:0], kindRecord, encBuf.Bytes())); err != nil {
			return nil, 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, 0, err
	}
	return tmp, w.n, nil
}

func appendHeader(buf []byte) []byte {
	buf = append(buf, fileMagic[:]...)
	return binary.BigEndian.AppendUint32(buf, fileFormatVersion)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// open locks and loads the state file, creating it if need be.
func (s *FileInstallationStore) open() error {
	f, err := s.openAndLock()
	if err != nil {
		return err
	}
	s.f = f
	s.removeStaleTemps()
	if err := s.load(); err != nil {
		_ = f.Close()
		return err
	}
	return nil
}

// openAndLock opens and locks the state file, making sure that the file
// locked is still the one at path: a compaction in another process may
// have replaced it in between.
func (s *FileInstallationStore) openAndLock() (stateFile, error) {
	for range 10 {
		f, err := s.cfg.fs.OpenFile(s.path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			err = s.createFile()
			if err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("addon: create state file: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("addon: open state file: %w", err)
		}

		if err := s.cfg.fs.Lock(f); err != nil {
			_ = f.Close()
			if errors.Is(err, ErrStateFileLocked) {
				return nil, fmt.Errorf("%w: %s", ErrStateFileLocked, s.path)
			}
			return nil, fmt.Errorf("addon: lock state file %s: %w", s.path, err)
		}
		if s.isCurrent(f) {
			return f, nil
		}
		_ = f.Close()
	}
	return nil, fmt.Errorf("addon: state file %s keeps being replaced while it is opened", s.path)
}

func (s *FileInstallationStore) isCurrent(f stateFile) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := s.cfg.fs.Stat(s.path)
	return err == nil && os.SameFile(fi, pi)
}

// createFile creates a state file holding only the header. It is written
// and fsynced under a temporary name, then linked to path, so that no
// process ever sees a half-written file, and an existing file is never
// replaced.
func (s *FileInstallationStore) createFile() (err error) {
	tmp, err := s.createTemp()
	if err != nil {
		return err
	}
	defer func() {
		_ = tmp.Close()
		_ = s.cfg.fs.Remove(tmp.Name())
	}()

	if _, err := tmp.Write(appendHeader(nil)); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := s.cfg.fs.Link(tmp.Name(), s.path); err != nil {
		return err
	}
	return s.cfg.fs.SyncDir(filepath.Dir(s.path))
}

// removeStaleTemps removes temporary files left by a process that died
// while compacting. The lock is held, so no live store is using them.
func (s *FileInstallationStore) removeStaleTemps() {
	dir := filepath.Dir(s.path)
	entries, err := s.cfg.fs.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(s.path)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			if err := s.cfg.fs.Remove(filepath.Join(dir, e.Name())); err != nil {
				s.cfg.logger.Warnf("addon: remove stale temporary state file: %v", err)
			}
		}
	}
}

// load reads the file into memory, handles damage as configured, and
// compacts the file when it is due.
func (s *FileInstallationStore) load() error {
	if err := s.f.Chmod(0o600); err != nil {
		return fmt.Errorf("addon: state file %s: %w", s.path, err)
	}
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("addon: state file %s: %w", s.path, err)
	}

	res, err := readLog(bufio.NewReaderSize(s.f, 64<<10))
	if err != nil {
		return fmt.Errorf("addon: read state file %s: %w", s.path, err)
	}
	s.installs, s.size, s.liveBytes = res.installs, res.end, res.liveBytes
	if res.damage != nil {
		return s.recoverFrom(res, fi.Size())
	}
	if s.needsCompaction() {
		if err := s.compact(); err != nil {
			s.nextCompactAt = 2 * s.size
			s.cfg.logger.Warnf("addon: compacting state file %s failed: %v", s.path, err)
		}
	}
	return nil
}

// recoverFrom keeps the valid prefix of a damaged file if the caller asked
// for it, by compacting it into a new file.
func (s *FileInstallationStore) recoverFrom(res *logContents, fileSize int64) error {
	damage := s.damageError(res.damage)
	if !s.cfg.recover || !res.damage.recoverable {
		return damage
	}
	dropped, err := countRecordsAfter(s.f, res.damage.offset, fileSize)
	if err != nil {
		return fmt.Errorf("addon: recover state file %s: %w", s.path, err)
	}
	if err := s.compact(); err != nil {
		return fmt.Errorf("addon: recover state file %s: %w", s.path, err)
	}
	report := RecoveryReport{
		Path:           s.path,
		Offset:         res.damage.offset,
		DroppedBytes:   fileSize - res.damage.offset,
		KeptRecords:    res.records,
		DroppedRecords: dropped,
		Err:            damage,
	}
	s.cfg.logger.Warnf("addon: recovered state file %s: dropped %d bytes and %d records from offset %d",
		s.path, report.DroppedBytes, report.DroppedRecords, report.Offset)
	if s.cfg.report != nil {
		s.cfg.report(report)
	}
	return nil
}

// countRecordsAfter counts the intact record frames between off and end:
// those whose checksum holds, wherever they start. A damaged frame cannot
// be trusted to say where the next one begins, so every offset is tried.
func countRecordsAfter(f io.ReaderAt, off, end int64) (int, error) {
	buf := make([]byte, end-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	n := 0
	for i := 0; i+frameHeaderSize <= len(buf); {
		size := frameHeaderSize + int(binary.BigEndian.Uint32(buf[i+1:i+5]))
		if buf[i] != kindRecord || size-frameHeaderSize > maxPayloadSize || i+size > len(buf) {
			i++
			continue
		}
		crc := crc32.Update(0, crcTable, buf[i:i+5])
		if crc32.Update(crc, crcTable, buf[i+frameHeaderSize:i+size]) !=
			binary.BigEndian.Uint32(buf[i+5:i+9]) {
			i++
			continue
		}
		n++
		i += size
	}
	return n, nil
}

func (s *FileInstallationStore) damageError(d *logDamage) error {
	if d.record == 0 {
		return fmt.Errorf("%w %s: at offset %d: %s", ErrCorruptStateFile, s.path, d.offset, d.reason)
	}
	return fmt.Errorf("%w %s: record %d at offset %d: %s",
		ErrCorruptStateFile, s.path, d.record, d.offset, d.reason)
}

// logContents is what readLog found in a state file.
type logContents struct {
	installs  map[string]fileEntry
	records   int        // schema and record frames read
	end       int64      // end of the valid prefix
	liveBytes int64      // size of the live installations' frames
	damage    *logDamage // nil when the whole file is valid
}

// logDamage locates the first damaged byte of a state file.
type logDamage struct {
	offset      int64
	record      int // 1-based number of the damaged frame, 0 for the header
	reason      string
	recoverable bool
}

// logReader reads a state file frame by frame.
type logReader struct {
	r       *bufio.Reader
	off     int64
	records int
	dec     *gob.Decoder
	payload payloadReader
	buf     []byte
}

// readLog reads a whole state file. Damage is reported in the result; the
// error is for failures to read.
func readLog(r *bufio.Reader) (*logContents, error) {
	lr := &logReader{r: r}
	res := &logContents{installs: make(map[string]fileEntry)}
	damage, err := lr.readHeader()
	done := false
	for damage == nil && err == nil && !done {
		done, damage, err = lr.next(res)
	}
	if err != nil {
		return nil, err
	}
	res.end, res.records, res.damage = lr.off, lr.records, damage
	return res, nil
}

func (lr *logReader) damaged(recoverable bool, format string, args ...any) *logDamage {
	return &logDamage{
		offset:      lr.off,
		record:      lr.records + 1,
		reason:      fmt.Sprintf(format, args...),
		recoverable: recoverable,
	}
}

func (lr *logReader) readHeader() (*logDamage, error) {
	var h [headerSize]byte
	n, err := io.ReadFull(lr.r, h[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	want := appendHeader(nil)
	d := &logDamage{recoverable: true}
	switch {
	case n == 0:
		d.reason = "empty file"
	case n < headerSize && bytes.Equal(h[:n], want[:n]):
		d.reason = "truncated header"
	case !bytes.Equal(h[:min(n, len(fileMagic))], fileMagic[:min(n, len(fileMagic))]):
		d.reason, d.recoverable = "not a state file of this library", false
	case n < headerSize:
		d.reason = "truncated header"
	case binary.BigEndian.Uint32(h[8:]) != fileFormatVersion:
		d.reason = fmt.Sprintf("unsupported format version %d", binary.BigEndian.Uint32(h[8:]))
		d.recoverable = false
	default:
		lr.off = headerSize
		return nil, nil
	}
	return d, nil
}

// next reads one frame and applies it to res. done is true at a clean end
// of file.
func (lr *logReader) next(res *logContents) (done bool, damage *logDamage, err error) {
	kind, err := lr.r.ReadByte()
	if errors.Is(err, io.EOF) {
		return true, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if kind == kindPadding {
		return false, lr.skipPadding(), nil
	}
	payload, damage, err := lr.readFrame(kind)
	if damage != nil || err != nil {
		return false, damage, err
	}
	frameSize := int64(frameHeaderSize + len(payload))

	switch kind {
	case kindSchema:
		damage = lr.readSchema(payload)
	case kindRecord:
		damage = lr.readRecord(payload, frameSize, res)
	}
	if damage != nil {
		return false, damage, nil
	}
	lr.records++
	lr.off += frameSize
	return false, nil, nil
}

func (lr *logReader) skipPadding() *logDamage {
	inPage := lr.off % pagePadding
	if inPage == 0 {
		return lr.damaged(true, "padding at a page boundary")
	}
	n := pagePadding - inPage
	for i := int64(1); i < n; i++ {
		c, err := lr.r.ReadByte()
		if err != nil {
			return lr.damaged(true, "file ends inside padding")
		}
		if c != 0 {
			return lr.damaged(true, "non-zero byte in padding")
		}
	}
	lr.off += n
	return nil
}

// readFrame reads the rest of a frame whose kind byte has been read and
// checks it.
func (lr *logReader) readFrame(kind byte) ([]byte, *logDamage, error) {
	if kind != kindSchema && kind != kindRecord {
		return nil, lr.damaged(true, "unknown frame kind %d", kind), nil
	}
	var h [frameHeaderSize - 1]byte
	if _, err := io.ReadFull(lr.r, h[:]); err != nil {
		d, err := lr.readDamage(err, "file ends inside a frame header")
		return nil, d, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n > maxPayloadSize {
		return nil, lr.damaged(true, "implausible frame length %d", n), nil
	}
	if cap(lr.buf) < int(n) {
		lr.buf = make([]byte, n)
	}
	payload := lr.buf[:n]
	if _, err := io.ReadFull(lr.r, payload); err != nil {
		d, err := lr.readDamage(err,
			"file ends inside a frame of %d bytes (cut short by a power failure or a partial copy?)", n)
		return nil, d, err
	}
	crc := crc32.Update(0, crcTable, []byte{kind})
	crc = crc32.Update(crc, crcTable, h[:4])
	if crc32.Update(crc, crcTable, payload) != binary.BigEndian.Uint32(h[4:]) {
		return nil, lr.damaged(true, "checksum mismatch"), nil
	}
	return payload, nil, nil
}

func (lr *logReader) readDamage(err error, format string, args ...any) (*logDamage, error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return lr.damaged(true, format, args...), nil
	}
	return nil, err
}

// readSchema starts a new decoder from a schema frame's type definitions.
func (lr *logReader) readSchema(payload []byte) *logDamage {
	lr.payload.b = payload
	lr.dec = gob.NewDecoder(&lr.payload)
	var rec fileRecord
	if err := lr.dec.Decode(&rec); err != nil || len(lr.payload.b) != 0 {
		lr.dec = nil
		return lr.damaged(true, "undecodable schema")
	}
	return nil
}

// readRecord decodes a record frame and applies it.
func (lr *logReader) readRecord(payload []byte, frameSize int64, res *logContents) *logDamage {
	if lr.dec == nil {
		return lr.damaged(true, "record before any schema")
	}
	var rec fileRecord
	lr.payload.b = payload
	if err := lr.dec.Decode(&rec); err != nil || len(lr.payload.b) != 0 {
		// A gob decoder is unusable after an error.
		lr.dec = nil
		return lr.damaged(true, "undecodable record")
	}
	if rec.OAuthID == "" {
		return lr.damaged(true, "record without an oauthId")
	}

	old, ok := res.installs[rec.OAuthID]
	switch rec.Op {
	case opPut:
		res.installs[rec.OAuthID] = fileEntry{inst: rec.installation(), size: frameSize}
		res.liveBytes += frameSize - old.size
	case opDelete:
		if !ok {
			return lr.damaged(true, "delete of an installation the file does not hold")
		}
		delete(res.installs, rec.OAuthID)
		res.liveBytes -= old.size
	default:
		return lr.damaged(true, "unknown record operation %d", rec.Op)
	}
	return nil
}

// payloadReader hands one frame's payload to a gob decoder. It implements
// io.ByteReader, so the decoder reads no further than the message.
type payloadReader struct{ b []byte }

func (p *payloadReader) Read(out []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	n := copy(out, p.b)
	p.b = p.b[n:]
	return n, nil
}

func (p *payloadReader) ReadByte() (byte, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c, nil
}

// fileSystem is the set of file operations the store uses, so that tests
// can make them fail.
type fileSystem interface {
	OpenFile(name string, flag int, perm fs.FileMode) (stateFile, error)
	CreateTemp(dir, pattern string) (stateFile, error)
	Link(oldname, newname string) error
	Rename(oldpath, newpath string) error
	Remove(name string) error
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	SyncDir(dir string) error
	// Lock takes an exclusive advisory lock on f without waiting. It
	// returns ErrStateFileLocked when another holds one.
	Lock(f stateFile) error
}

// stateFile is an open file, as *os.File.
type stateFile interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	Name() string
	Sync() error
	Truncate(size int64) error
	Chmod(mode fs.FileMode) error
	Stat() (fs.FileInfo, error)
	Close() error
}

type osFileSystem struct{}

func (osFileSystem) OpenFile(name string, flag int, perm fs.FileMode) (stateFile, error) {
	return os.OpenFile(name, flag, perm)
}

func (osFileSystem) CreateTemp(dir, pattern string) (stateFile, error) {
	return os.CreateTemp(dir, pattern)
}

func (osFileSystem) Link(oldname, newname string) error   { return os.Link(oldname, newname) }
func (osFileSystem) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFileSystem) Remove(name string) error             { return os.Remove(name) }

func (osFileSystem) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFileSystem) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFileSystem) SyncDir(dir string) error                   { return syncDir(dir) }

func (osFileSystem) Lock(f stateFile) error {
	osf, ok := f.(*os.File)
	if !ok {
		return fmt.Errorf("cannot lock a %T", f)
	}
	return lockFile(osf)
}
