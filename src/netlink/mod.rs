//! Netlink sockets, dump requests and the receive loop.
//! (Filled in by the network issue.)
