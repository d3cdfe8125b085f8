package benchkit

import (
	"os/exec"
	"strings"
)

// TreeRevision describes the working tree at root: HEAD's first 12 hex
// digits plus "+dirty" when tracked files outside bench/ differ from it (what a build of
// the tree measures; builds here carry no VCS stamp, GOFLAGS=-buildvcs=false).
func TreeRevision(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if exec.Command("git", "-C", root, "diff", "--quiet", "HEAD", "--", ".", ":(exclude)bench").Run() != nil {
		rev += "+dirty"
	}
	return rev
}
