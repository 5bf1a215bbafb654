//! User namespaces: uid/gid maps collected, dumped or loaded.

use std::os::fd::AsFd;

use crate::{userns, Context, Error, Result, ResultExt};

impl Context {
    fn user(&self) -> &userns::UserNamespaces {
        self.collected.as_ref().map_or(&self.loose_user, |c| &c.user)
    }

    fn user_mut(&mut self) -> &mut userns::UserNamespaces {
        match &mut self.collected {
            Some(c) => &mut c.user,
            None => &mut self.loose_user,
        }
    }

    /// CRIU's `dump_user_ns(pid, ns_id)`: reads the uid/gid maps of `pid`,
    /// checks in a child process that the namespace can be entered, and
    /// writes `userns-<ns_id>.img` into the images directory. When the
    /// namespace table is collected, `ns_id` must name a user namespace
    /// and `pid` must live in it. Nothing is written on failure.
    pub fn dump_user_ns(&mut self, pid: i32, ns_id: u32) -> Result<()> {
        let table = self.collected.as_ref().map(|c| &c.namespaces);
        let dir = self.images_dir.as_ref().map(|fd| fd.as_fd());
        let maps = userns::dump_user_ns(&self.proc, pid, ns_id, table, dir)
            .with_context(|| format!("dump user namespace {ns_id} of pid {pid}"))?;
        self.user_mut().maps.insert(ns_id, maps);
        Ok(())
    }

    /// The uid/gid maps known for user namespace `ns_id` (collected,
    /// dumped or loaded from an image).
    pub fn user_maps(&self, ns_id: u32) -> Result<&userns::IdMaps> {
        self.user()
            .maps
            .get(&ns_id)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no uid/gid maps for user namespace {ns_id} in this context")))
    }

    /// The user namespace whose image the last `collect_namespaces(true)`
    /// wrote (CRIU dumps the root's when it is not the caller's).
    pub fn dumped_user_ns(&self) -> Option<u32> {
        self.user().dumped
    }

    /// Every user namespace with maps, by id.
    pub fn user_namespaces(&self) -> &std::collections::BTreeMap<u32, userns::IdMaps> {
        &self.user().maps
    }

    /// Reads `userns-<ns_id>.img` from the images directory into the
    /// context, replacing what was known for `ns_id`.
    pub fn load_user_ns_image(&mut self, ns_id: u32) -> Result<&userns::IdMaps> {
        let maps = userns::read_image(self.images_dir()?, ns_id)?;
        let user = self.user_mut();
        user.maps.insert(ns_id, maps);
        Ok(&user.maps[&ns_id])
    }
}
