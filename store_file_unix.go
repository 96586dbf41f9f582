//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package addon

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fileLocking reports whether state files are locked on this system.
const fileLocking = true

// lockFile takes an exclusive flock on f without waiting. The lock belongs
// to the open file, so a second open of the same file, even in this
// process, cannot take it; it is released when f is closed.
func lockFile(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return ErrStateFileLocked
		default:
			return err
		}
	}
}

// syncDir fsyncs a directory, making the creation or renaming of a file in
// it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
