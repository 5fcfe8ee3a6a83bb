package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"aginstall/steps"
)

// runLock keeps two operators from applying to one cluster at once.
type runLock struct{ path string }

type lockHolder struct {
	Host  string    `json:"host"`
	User  string    `json:"user"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (h lockHolder) alive() bool {
	me, _ := os.Hostname()
	if h.Host != me {
		return true // cannot tell from here: assume it is
	}
	err := syscall.Kill(h.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// acquireLock creates .aginstall/<name>.lock exclusively. A lock whose holder
// is gone can be broken only with --break-lock, so nobody steals a live one.
func acquireLock(c *steps.Cluster, breakIt bool) (*runLock, error) {
	dir := c.StateDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, c.Name+".lock")
	host, _ := os.Hostname()
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	me := lockHolder{Host: host, User: name, PID: os.Getpid(), Since: time.Now().UTC()}
	data, _ := json.Marshal(me)
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, werr := f.Write(data)
			cerr := f.Close()
			return &runLock{path: path}, errors.Join(werr, cerr)
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		var held lockHolder
		raw, _ := os.ReadFile(path)
		_ = json.Unmarshal(raw, &held)
		msg := fmt.Sprintf("another aginstall holds the lock on cluster %s: %s@%s, pid %d, since %s (%s)",
			c.Name, held.User, held.Host, held.PID, held.Since.Local().Format(time.RFC1123), path)
		if held.alive() {
			if breakIt && held.Host != host {
				_ = os.Remove(path)
				continue
			}
			return nil, fmt.Errorf("%w: %s; wait for it to finish", errBadInput, msg)
		}
		if !breakIt {
			return nil, fmt.Errorf("%w: %s, which is no longer running; if you are sure, run again with --break-lock", errBadInput, msg)
		}
		_ = os.Remove(path)
	}
	return nil, fmt.Errorf("could not take the lock %s", path)
}

func (l *runLock) release() {
	if l != nil {
		_ = os.Remove(l.path)
	}
}
