// Package reload watches files, the gateway's configuration above all, and
// hands what they hold to a callback after each change and whenever it is
// asked to.
//
// A [Watcher] watches a set of paths, which [Watcher.Watch] replaces at any
// time (the config file, and later the files the config names). It reads
// and delivers a path after each burst of file-system events that concern
// it, and every path after [Watcher.Trigger] (what a SIGHUP asks for). It
// does not decide whether what it read is new: the caller knows what is
// running, and compares with that.
//
// # Why the directory is watched
//
// A [Watcher] never watches the configuration file itself. An inotify-style
// watch is attached to an inode, and most ways of replacing a file never
// touch the inode that was watched:
//
//   - Editors that save atomically (vim, sed -i, most IDEs) write a new file
//     beside the old one and rename it over the path; the old inode is
//     unlinked and a watch on it goes silent.
//   - A Kubernetes ConfigMap volume is a chain of symbolic links that is
//     switched by renaming a link, never by writing the file.
//
// A ConfigMap mounted at dir looks like this:
//
//	dir/gateway.yaml -> ..data/gateway.yaml
//	dir/..data       -> ..2026_11_24_10_00_00.123
//	dir/..2026_11_24_10_00_00.123/gateway.yaml   (the real file)
//
// The kubelet updates it by writing a new timestamped directory, pointing a
// temporary link ..data_tmp at it, renaming ..data_tmp over ..data and
// deleting the old directory. Neither dir/gateway.yaml nor the old file is
// ever written.
//
// So the Watcher watches the directory that holds the path and, following
// the symbolic-link chain, the real directory holding each link target (for
// a ConfigMap: dir and the current timestamped directory; for a path that
// links to a file elsewhere: both directories). Any event in a watched
// directory that names the file, a link of its chain (such as ..data), or
// the directory itself (write, create, rename, remove or chmod alike) starts
// the same reaction; the kind of event is never used to decide. Events for
// other files there, such as a log written beside the config, are ignored,
// so that they cannot hold a reload back. After the quiet period the
// Watcher re-resolves the link chain, moves its watches to the directories
// the chain now passes through, and reads the path again.
//
// # Debounce and delivery
//
// Saves arrive as bursts of events: a truncate followed by writes, or the
// two halves of a rename. The Watcher waits until no event has arrived for
// [Options.Debounce] (default [DefaultDebounce], 50ms) and then reads each
// path that an event of the burst concerned, once. [Watcher.Trigger] starts
// or extends the same quiet period, so a signal that lands in the middle of
// a save reads the finished file, and events and triggers of one period
// make one read, marked [Read.Triggered].
//
// Every read that an event or a trigger asked for is delivered, even when
// the content is what was read before: a touch, a chmod or a save without
// changes delivers the same bytes again, for the caller to recognise (the
// gateway compares them with the config it runs, and tries again a config
// it rejected when it is saved again). A save, or a ConfigMap swap, is
// delivered once; a directory removed and created again may deliver the
// new content twice, when its own events come after the read.
//
// A path that cannot be read (missing, a directory, unreadable, a symlink
// loop) is delivered as a [Read] with Err set, so the caller can tell that
// a reload failed. An empty file is never delivered: it is taken to be half
// written (between the truncate and the write of a save) and the Watcher
// waits for the next event.
//
// # Missing directories and failures
//
// Events cannot be received from a directory that does not exist. When a
// directory a path depends on is missing (removed, or not created yet),
// the Watcher checks again every [Options.PollInterval] (default
// [DefaultPollInterval]); once the directory is back it re-establishes the
// watch and reads the path. A read that polling alone caused is delivered
// only when it differs from the previous read of that path, so a path that
// stays missing is delivered once, not at every poll.
//
// If the file-system notifier cannot be started, or stops, the Watcher
// reports it to [Options.OnError], polls every path meanwhile, and tries
// again to start the notifier after 1s, then after doubling delays up to
// 30s, for as long as it runs; once it works, OnError is called with nil.
// Errors that the notifier reports while it runs (a queue overflow) are
// logged, and every path is read again in case events were lost.
//
// # Delivery
//
// The callback runs on the goroutine that called [Watcher.Run], one call at
// a time and in order, so the caller can build and publish a new
// configuration without further locking. Run stops every goroutine it
// started before it returns.
//
// [Options.TriggerOnly] turns watching off: the Watcher then delivers only
// what Trigger asks for, after the same quiet period.
package reload
