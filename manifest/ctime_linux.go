package manifest

import (
	"os"
	"syscall"
	"time"
)

// changeTime is fi's status change time (ctime): any write, and any
// change of its times or mode, sets it to now, so that a rewrite whose
// modification time was put back (cp -p, rsync --inplace, touch -r)
// still shows. ok is false when fi does not carry it.
func changeTime(fi os.FileInfo) (t time.Time, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(st.Ctim.Unix()), true
}
