// Package reload watches the gateway's configuration file and hands each new
// version of its content to a callback.
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
// so that they cannot hold a reload back. After the quiet period the Watcher re-resolves the link chain,
// moves its watches to the directories the chain now passes through, and
// re-reads the path.
//
// # Debounce and deduplication
//
// Saves arrive as bursts of events: a truncate followed by writes, or the
// two halves of a rename. The Watcher waits until no event has arrived for
// [Options.Debounce] (default [DefaultDebounce], 50ms) and then reads the
// whole file once. The content is identified by its SHA-256 ([Hash]); it is
// delivered only when it differs from the content last delivered, or from
// [Options.Initial] before anything was delivered. Touching a file, a
// chmod, or saving without changes therefore delivers nothing, and a
// ConfigMap swap delivers exactly once.
//
// A file that is missing or empty is never delivered: it is taken to be half
// written (between the remove and the create of a save, or between truncate
// and write) and the Watcher waits for the next event. A disappearance does
// not reset what counts as running, so content that comes back unchanged is
// not delivered again.
//
// # Missing directories
//
// Events cannot be received from a directory that does not exist. When a
// directory the path depends on is missing (removed, or not created yet),
// the Watcher checks again every [Options.PollInterval] (default
// [DefaultPollInterval]); once the directory is back it re-establishes the
// watch and re-reads the path. Errors reported by the file-system notifier
// are logged and watching goes on, followed by a re-read in case events were
// lost.
//
// # Delivery
//
// The callback runs on the goroutine that called [Watcher.Run], one call at
// a time and in order, so the caller can build and publish a new
// configuration without further locking. Run stops every goroutine it
// started before it returns.
package reload
