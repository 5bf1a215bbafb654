//! C entry points of the net room (added by its issue).
