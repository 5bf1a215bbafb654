//! C entry points of the userns room (added by its issue).
