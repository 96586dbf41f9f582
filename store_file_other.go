//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package addon

import (
	"os"
	"runtime"
)

// fileLocking reports whether state files are locked on this system. Here
// they are not: nothing stops two processes from opening the same state
// file, and the file is then corrupted.
const fileLocking = false

// lockFile does nothing on this system.
func lockFile(*os.File) error { return nil }

// syncDir fsyncs a directory where the system allows it. Windows does not,
// so there a rename may not survive a power failure.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
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
