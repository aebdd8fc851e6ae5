package reload

import "github.com/fsnotify/fsnotify"

// notifier is the part of [fsnotify.Watcher] that [Watcher] uses. It exists
// so that tests can inject failures that a real kernel does not produce on
// demand (a failing constructor, an error on the Errors channel).
type notifier interface {
	Add(dir string) error
	Remove(dir string) error
	WatchList() []string
	Events() <-chan fsnotify.Event
	Errors() <-chan error
	Close() error
}

// fsnotifyNotifier adapts an [fsnotify.Watcher] to [notifier].
type fsnotifyNotifier struct {
	w *fsnotify.Watcher
}

// newFsnotifyNotifier starts an fsnotify watcher with nothing watched yet.
func newFsnotifyNotifier() (notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return fsnotifyNotifier{w: w}, nil
}

func (n fsnotifyNotifier) Add(dir string) error          { return n.w.Add(dir) }
func (n fsnotifyNotifier) Remove(dir string) error       { return n.w.Remove(dir) }
func (n fsnotifyNotifier) WatchList() []string           { return n.w.WatchList() }
func (n fsnotifyNotifier) Events() <-chan fsnotify.Event { return n.w.Events }
func (n fsnotifyNotifier) Errors() <-chan error          { return n.w.Errors }
func (n fsnotifyNotifier) Close() error                  { return n.w.Close() }
