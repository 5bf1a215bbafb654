//! C entry points of the mount room (added by its issue).
