package main

import "fmt"

// openSection starts a part of the log that stays open: the phases that
// upload (building layers, publishing), whose progress lines are what a
// user watches while waiting. GitHub folds every ::group:: shut, so there
// it is a heading line and no group; GitLab shows an uncollapsed section;
// elsewhere it is a heading. The returned function ends it.
func (u *ui) openSection(title string) func() {
	if !u.gitlab {
		u.println("== " + title)
		return func() {}
	}
	name := sectionName(title)
	fmt.Fprintf(u.stdout, "\x1b[0Ksection_start:%d:%s\r\x1b[0K%s\n", u.now().Unix(), name, title)
	return func() {
		fmt.Fprintf(u.stdout, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", u.now().Unix(), name)
	}
}
